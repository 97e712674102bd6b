import { ErrorCode, NOT_ENOUGH_MEMBERS, SlotrelayError } from '../errors.js';
import { type HostPort, normalizeHost, wireAddress } from './address.js';
import type { ClusterNode, Topology } from './cluster-nodes.js';

/** How Redis nodes are assigned to proxies (DESIGN.md "Cluster mapping"). */
export type MappingSpec =
  | {
      readonly mode: 'dynamic';
      /** Proxy addresses, instance IDs 1…N in this order. */
      readonly members: readonly HostPort[];
      /** This proxy's instance ID (1-based). */
      readonly instanceId: number;
      /**
       * How nodes are ordered before node k goes to instance k: `sorted` by node ID (Gallium Data's
       * rule, the default) or by announced `address` (hostname or IP, then port), which keeps every
       * assignment when a node is replaced at the same address or fails over.
       */
      readonly strategy?: 'sorted' | 'address';
    }
  | {
      readonly mode: 'static';
      readonly entries: ReadonlyArray<{ readonly redis: HostPort; readonly proxy: HostPort }>;
      /** The one Redis node this proxy fronts. */
      readonly upstream: HostPort;
    };

/** A proxy address, with the exact `host:port` string clients see everywhere. */
export interface ProxyAddress extends HostPort {
  readonly text: string;
}

/** One row of the mapping, for STATUSCLUSTER and logs. */
export interface MappingRow {
  readonly redis: HostPort;
  readonly proxy: ProxyAddress;
  readonly node: ClusterNode | undefined;
}

const toProxy = (a: HostPort): ProxyAddress => ({ host: a.host, port: a.port, text: wireAddress(a) });
const key = (host: string, port: number) => `${normalizeHost(host)}:${port}`;

/**
 * Redis node ⇄ proxy address, keyed by node ID (WIRE.md "Design implications" 1–2): every form a
 * Redis address takes on the wire (`ip:port`, `hostname:port`, `?:port`, `:port`) maps back to a
 * node, and each node to one proxy address string, identical wherever it is written.
 * Immutable: a new topology builds a new map.
 */
export class AddressMap {
  /** Nodes sorted by ID (the dynamic assignment order). */
  readonly nodes: readonly ClusterNode[];
  /** The node this proxy fronts, when the topology names it. */
  readonly self: ClusterNode | undefined;
  /** Where this proxy's sessions connect. */
  readonly upstream: HostPort;
  private readonly byEndpoint = new Map<string, ClusterNode>();
  private readonly byPort = new Map<number, ClusterNode[]>();
  private readonly proxyById = new Map<string, ProxyAddress>();
  private readonly staticByRedis = new Map<string, ProxyAddress>();
  private readonly redisByProxy = new Map<string, HostPort>();
  private readonly owners: Array<ClusterNode | undefined> = new Array(16384);

  constructor(
    readonly spec: MappingSpec,
    readonly topology: Topology | null,
  ) {
    const byAddress = spec.mode === 'dynamic' && spec.strategy === 'address';
    // Handshake nodes carry a temporary ID and noaddr nodes no address: neither takes a proxy, or a
    // CLUSTER MEET in progress would shift the whole dynamic mapping.
    const nodes = topology ? topology.nodes.filter(isMappable).sort(byAddress ? compareAddress : compareId) : [];
    this.nodes = nodes;
    for (const n of nodes) {
      if (n.role === 'master')
        for (const [lo, hi] of n.slots) for (let k = lo; k <= hi && k < 16384; k++) this.owners[k] = n;
      for (const port of new Set([n.port, n.tlsPort, n.tcpPort])) {
        if (port === 0) continue;
        if (n.ip) this.byEndpoint.set(key(n.ip, port), n);
        if (n.hostname) this.byEndpoint.set(key(n.hostname, port), n);
        const list = this.byPort.get(port) ?? [];
        list.push(n);
        this.byPort.set(port, list);
      }
    }
    if (spec.mode === 'dynamic') {
      if (nodes.length > spec.members.length) {
        throw new SlotrelayError(
          ErrorCode.NotEnoughMembers,
          `${NOT_ENOUGH_MEMBERS}: the cluster has ${nodes.length} nodes, clusterMembers lists ${spec.members.length}; at least ${nodes.length} are needed`,
          NOT_ENOUGH_MEMBERS,
        );
      }
      nodes.forEach((n, i) => this.proxyById.set(n.id, toProxy(spec.members[i]!)));
      this.self = topology ? nodes[spec.instanceId - 1] : undefined;
      if (topology && spec.instanceId > nodes.length) {
        // More members than nodes is allowed (spares); a spare has nothing to front yet.
        this.upstream = { host: '', port: 0 };
      } else {
        this.upstream = this.self ? nodeAddress(this.self) : { host: '', port: 0 };
      }
    } else {
      for (const e of spec.entries) {
        const p = toProxy(e.proxy);
        this.staticByRedis.set(key(e.redis.host, e.redis.port), p);
        this.redisByProxy.set(key(p.host, p.port), e.redis);
      }
      for (const n of nodes) {
        const p = this.staticProxyFor(n);
        if (p) this.proxyById.set(n.id, p);
      }
      this.upstream = spec.upstream;
      this.self = this.nodeAt(spec.upstream.host, spec.upstream.port, spec.upstream.host);
    }
    for (const n of nodes) {
      const p = this.proxyById.get(n.id);
      if (p) this.redisByProxy.set(key(p.host, p.port), nodeAddress(n));
    }
  }

  private staticProxyFor(n: ClusterNode): ProxyAddress | undefined {
    for (const port of [n.port, n.tlsPort, n.tcpPort]) {
      if (port === 0) continue;
      const p =
        (n.ip && this.staticByRedis.get(key(n.ip, port))) ||
        (n.hostname && this.staticByRedis.get(key(n.hostname, port)));
      if (p) return p;
    }
    return undefined;
  }

  /**
   * The node behind a Redis endpoint as written on the wire. `host` may be an IP, a hostname, `?`
   * (hostname endpoints without a hostname) or '' (unknown-endpoint: "the host you asked").
   * `askedHost` is the host of the connection the endpoint came from.
   */
  nodeAt(host: string, port: number, askedHost: string): ClusterNode | undefined {
    if (host === '') host = askedHost;
    if (host !== '?') {
      const n = this.byEndpoint.get(key(host, port));
      if (n) return n;
    }
    const candidates = this.byPort.get(port);
    if (!candidates) return undefined;
    if (candidates.length === 1 && (host === '?' || host === askedHost)) return candidates[0];
    if (host === '?')
      return candidates.find((c) => c.ip === askedHost) ?? (candidates.length === 1 ? candidates[0] : undefined);
    return undefined;
  }

  /** The master serving `slot` according to this topology. */
  ownerOf(slot: number): ClusterNode | undefined {
    return this.owners[slot];
  }

  /** The proxy for a node ID. */
  proxyFor(nodeId: string): ProxyAddress | undefined {
    return this.proxyById.get(nodeId);
  }

  /** The proxy for a Redis endpoint as written on the wire (see `nodeAt`), or undefined when unknown. */
  proxyForEndpoint(host: string, port: number, askedHost: string): ProxyAddress | undefined {
    const n = this.nodeAt(host, port, askedHost);
    if (n) return this.proxyById.get(n.id);
    if (this.spec.mode === 'static') return this.staticByRedis.get(key(host === '' ? askedHost : host, port));
    return undefined;
  }

  /** Reverse: the Redis node address behind a proxy address a client sent (MIGRATE, CLUSTER MEET …). */
  redisFor(host: string, port: number): HostPort | undefined {
    return this.redisByProxy.get(key(host, port));
  }

  /** The mapping, one row per proxy that fronts a node, in node-ID order (dynamic) or config order (static). */
  rows(): MappingRow[] {
    if (this.spec.mode === 'dynamic') {
      return this.nodes.map((n) => ({ redis: nodeAddress(n), proxy: this.proxyById.get(n.id)!, node: n }));
    }
    return this.spec.entries.map((e) => ({
      redis: e.redis,
      proxy: toProxy(e.proxy),
      node: this.nodeAt(e.redis.host, e.redis.port, e.redis.host),
    }));
  }
}

function isMappable(n: ClusterNode): boolean {
  return n.port !== 0 && !n.flags.includes('handshake') && !n.flags.includes('noaddr');
}

function compareId(a: ClusterNode, b: ClusterNode): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function compareAddress(a: ClusterNode, b: ClusterNode): number {
  const ha = a.hostname || a.ip;
  const hb = b.hostname || b.ip;
  if (ha !== hb) return ha < hb ? -1 : 1;
  return a.port - b.port || compareId(a, b);
}

/** The address to dial for a node: its IP, else its hostname. */
export function nodeAddress(n: ClusterNode): HostPort {
  return { host: n.ip || n.hostname, port: n.port };
}
