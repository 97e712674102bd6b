import type { LocalCluster } from '@slotrelay/local-cluster';
import { ProxyFleet } from './proxies.js';

/** Where the clients of a run connect: through a fleet of proxies, or straight to Redis. */
export type Side = 'fleet' | 'direct';

/**
 * Run `fn` with the addresses clients get on `side`: the proxies of a fresh fleet (one process per
 * node of `cluster`, stopped afterwards) or the Redis nodes themselves.
 */
export async function onSide<T>(
  side: Side,
  cluster: LocalCluster,
  fn: (addresses: string[], fleet: ProxyFleet | undefined) => Promise<T>,
): Promise<T> {
  if (side === 'direct') return fn(cluster.seeds, undefined);
  const fleet = await ProxyFleet.start({ seeds: cluster.seeds, count: cluster.nodes.length });
  try {
    return await fn(fleet.addresses, fleet);
  } finally {
    await fleet.stop();
  }
}

/** Seconds with one decimal, or null. */
export function seconds(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms / 100) / 10;
}
