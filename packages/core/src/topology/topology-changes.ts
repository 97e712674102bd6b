import { wireAddress } from './address.js';
import { type AddressMap, nodeAddress } from './address-map.js';
import type { ClusterNode } from './cluster-nodes.js';

/** What changed for one node between two maps (a log line each). */
export interface NodeChange {
  readonly node: string;
  /** `added`, `removed`, or `changed` (role, address or fronting proxy). */
  readonly change: 'added' | 'removed' | 'changed';
  readonly from?: { readonly role: string; readonly address: string; readonly proxy: string };
  readonly to?: { readonly role: string; readonly address: string; readonly proxy: string };
}

const describe = (map: AddressMap, n: ClusterNode) => ({
  role: roleOf(n),
  address: wireAddress(nodeAddress(n)),
  proxy: proxyText(map, n),
});

/** `master`, `replica`, plus `fail`/`fail?` when flagged: a failed master is not a healthy one. */
function roleOf(n: ClusterNode): string {
  const failed = n.flags.includes('fail') ? ', fail' : n.flags.includes('fail?') ? ', fail?' : '';
  return `${n.role}${failed}`;
}

/** The proxy that fronts `n` in `map` and, with a dynamic mapping, its instance ID. */
function proxyText(map: AddressMap, n: ClusterNode): string {
  const p = map.proxyFor(n.id);
  if (!p) return 'none';
  const i = map.spec.mode === 'dynamic' ? map.nodes.indexOf(n) : -1;
  return i >= 0 ? `${p.text} (instance ${i + 1})` : p.text;
}

/**
 * Node by node, what differs between the previous and the next map: nodes that joined or left,
 * and nodes whose role (a failover), address or fronting proxy changed. Slot moves alone are not
 * listed (a reshard changes thousands; the scan's own line says the topology changed).
 */
export function topologyChanges(prev: AddressMap, next: AddressMap): NodeChange[] {
  const before = new Map((prev.topology?.nodes ?? []).map((n) => [n.id, n]));
  const after = new Map((next.topology?.nodes ?? []).map((n) => [n.id, n]));
  const out: NodeChange[] = [];
  for (const [id, n] of after) {
    const o = before.get(id);
    const to = describe(next, n);
    if (!o) {
      out.push({ node: id, change: 'added', to });
      continue;
    }
    const from = describe(prev, o);
    if (from.role !== to.role || from.address !== to.address || from.proxy !== to.proxy)
      out.push({ node: id, change: 'changed', from, to });
  }
  for (const [id, o] of before) if (!after.has(id)) out.push({ node: id, change: 'removed', from: describe(prev, o) });
  return out;
}
