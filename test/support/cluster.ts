import { inject } from 'vitest';
import { RawClient } from './raw-client.js';

export { keyInSlots } from '../../packages/host/test/support/cluster.js';
export { keySlot } from '@slotrelay/local-cluster';

/** The shared cluster started by global-setup. */
export function sharedCluster() {
  return inject('cluster');
}

/** The masters of the shared cluster with their slot ranges, read live (failovers in other files are not expected). */
export async function mastersWithSlots(
  seed: string,
): Promise<Array<{ host: string; port: number; id: string; slots: Array<[number, number]> }>> {
  const [host, port] = [seed.slice(0, seed.lastIndexOf(':')), Number(seed.slice(seed.lastIndexOf(':') + 1))];
  const c = await RawClient.connect(port, host);
  try {
    const ranges = (await c.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string]]>;
    const byId = new Map<string, { host: string; port: number; id: string; slots: Array<[number, number]> }>();
    for (const [lo, hi, [h, p, id]] of ranges) {
      const m = byId.get(id) ?? { host: h, port: p, id, slots: [] };
      m.slots.push([lo, hi]);
      byId.set(id, m);
    }
    return [...byId.values()];
  } finally {
    c.close();
  }
}
