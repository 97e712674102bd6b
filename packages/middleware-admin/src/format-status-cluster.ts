import {
  type AddressMap,
  type ClusterNode,
  type HostPort,
  type MappingRow,
  nodeAddress,
  normalizeHost,
  wireAddress,
} from '@slotrelay/core/internal';

/** What STATUSCLUSTER reports besides the map itself. */
export interface StatusClusterInfo {
  /** Scans the listener's `TopologyService` has run since start. */
  readonly scans: number;
  /** The last successful read of the topology, which may have found nothing new; default: when the map's topology was read. */
  readonly lastRead?: { readonly source: HostPort; readonly at: number } | null;
}

const sameAddress = (a: HostPort, b: HostPort) => a.port === b.port && normalizeHost(a.host) === normalizeHost(b.host);

/** CLUSTER NODES flags that say what a node is, already written as its role (or as `<- this proxy`). */
const ROLE_FLAGS: ReadonlySet<string> = new Set(['myself', 'master', 'slave', 'noflags']);

/**
 * The node's state as CLUSTER NODES reports it, after its role: every other flag (`fail`, `fail?`,
 * `handshake`, `noaddr`, `nofailover` …) and the link state when it is `disconnected`. A failed
 * master used to read `master` alone (issue 15).
 */
export function nodeState(n: ClusterNode): string {
  let s = n.role;
  for (const f of n.flags) if (!ROLE_FLAGS.has(f)) s += `, ${f}`;
  if (!n.connected) s += ', disconnected';
  return s;
}

/** True when `row` is the Redis node this proxy fronts. */
function isSelf(map: AddressMap, row: MappingRow): boolean {
  if (map.self) return row.node?.id === map.self.id;
  // A static map without topology (Redis unreachable at start) still knows its upstream.
  return map.spec.mode === 'static' && sameAddress(row.redis, map.spec.upstream);
}

/**
 * The text of `GALLIUMDATA STATUSCLUSTER`, lines joined by `\n` (no trailing newline):
 *
 * ```text
 * OK Cluster mappings (dynamic):
 * Redis server 127.100.0.1:7000 is mapped to slotrelay proxy-1:6391 (node <40 hex>, master) <- this proxy
 * Redis server fe80::5:7001 is mapped to slotrelay proxy-2:6391 (node <40 hex>, master, fail, disconnected)
 * Redis server 127.100.0.9:7009 is mapped to no slotrelay (node <40 hex>, master, handshake)
 * Topology read from 127.100.0.1:7000 at 2025-01-01T00:00:00.000Z; 3 scans since start
 * ```
 *
 * Addresses are written as Redis writes them (IPv6 bare); proxies as in `clusterMembers`. Rows come
 * from `AddressMap.rows()`: node-ID order (dynamic) or config order (static). The parenthesis starts
 * as Gallium Data's (`node <id>, <role>`), then the node's other flags and link state as CLUSTER NODES
 * reports them (`nodeState`). Nodes that take no proxy (handshake, noaddr) follow, so a CLUSTER MEET
 * in progress shows too.
 */
export function formatStatusCluster(map: AddressMap, info: StatusClusterInfo): string {
  const lines = [`OK Cluster mappings (${map.spec.mode}):`];
  for (const row of map.rows()) {
    let line = `Redis server ${wireAddress(row.redis)} is mapped to slotrelay ${row.proxy.text}`;
    line += row.node ? ` (node ${row.node.id}, ${nodeState(row.node)})` : ' (not in the cluster topology)';
    if (isSelf(map, row)) line += ' <- this proxy';
    lines.push(line);
  }
  const mapped = new Set(map.nodes.map((n) => n.id));
  for (const n of map.topology?.nodes ?? []) {
    if (mapped.has(n.id) || map.spec.mode === 'static') continue;
    lines.push(`Redis server ${wireAddress(nodeAddress(n))} is mapped to no slotrelay (node ${n.id}, ${nodeState(n)})`);
  }
  const spec = map.spec;
  if (spec.mode === 'dynamic' && map.topology && map.self === undefined) {
    // More members than nodes is allowed: the extra proxies wait for the cluster to grow.
    lines.push(
      `This proxy (instance ${spec.instanceId}) fronts no Redis node: the cluster has ${map.nodes.length} nodes, clusterMembers lists ${spec.members.length}`,
    );
  }
  const t = info.lastRead ?? map.topology;
  const scans = `${info.scans} ${info.scans === 1 ? 'scan' : 'scans'} since start`;
  lines.push(
    t
      ? `Topology read from ${wireAddress(t.source)} at ${new Date(t.at).toISOString()}; ${scans}`
      : `Topology not read (no Redis server answered${spec.mode === 'static' ? '; static mapping as configured' : ''}); ${scans}`,
  );
  return lines.join('\n');
}
