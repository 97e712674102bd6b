import type { ProxyFleet } from './proxies.js';
import { call } from './redis-admin.js';

/** The index of the proxy fronting each Redis node ID (asked through each proxy: CLUSTER MYID goes to its node). */
export async function proxyOfNode(fleet: ProxyFleet): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(fleet.addresses.map(async (a, i) => out.set(String(await call(a, ['CLUSTER', 'MYID'])), i)));
  return out;
}
