import { BehaviorSubject } from 'rxjs';
import { ErrorCode, SlotrelayError, clientTextOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { RespType } from '../resp/constants.js';
import { type RespNode, toPlain } from '../resp/decode.js';
import { runCommands } from '../transport/command.js';
import type { Dialer } from '../transport/tcp.js';
import { type HostPort, wireAddress } from './address.js';
import { AddressMap, type MappingSpec } from './address-map.js';
import { type ClusterNode, parseClusterNodes, type Topology } from './cluster-nodes.js';
import { topologyChanges } from './topology-changes.js';
import { UpstreamHealth, STILL_UNREACHABLE_LOG_MS } from './upstream-health.js';

export type { Topology };

/** Credentials for the proxy's own control connections (discovery), when Redis requires AUTH. */
export interface RedisAuth {
  readonly username?: string;
  readonly password: string;
}

/**
 * Reads CLUSTER NODES (and, on Redis 7+, CLUSTER SHARDS for both the TCP and TLS ports of every
 * node) from one node. A `myself` line without an IP gets the address we dialed, as
 * redis-benchmark does.
 */
export async function fetchTopology(
  dial: Dialer,
  target: HostPort,
  auth: RedisAuth | undefined,
  timeoutMs: number,
): Promise<Topology> {
  const sock = await dial(target);
  try {
    const cmds: string[][] = [];
    if (auth) cmds.push(auth.username ? ['AUTH', auth.username, auth.password] : ['AUTH', auth.password]);
    cmds.push(['CLUSTER', 'NODES'], ['CLUSTER', 'SHARDS']);
    const replies = await runCommands(sock, cmds, timeoutMs);
    const [nodesReply, shardsReply] = replies.slice(auth ? 1 : 0);
    if (auth && replies[0]!.type === RespType.Error)
      throw new SlotrelayError(ErrorCode.Topology, `AUTH failed: ${replies[0]!.text}`);
    if (!nodesReply || nodesReply.type === RespType.Error) {
      throw new SlotrelayError(ErrorCode.Topology, `CLUSTER NODES failed: ${nodesReply?.text ?? 'no reply'}`);
    }
    const nodes = parseClusterNodes(nodesReply.data!.toString('utf8'));
    for (const n of nodes) if (n.myself && n.ip === '') n.ip = target.host;
    if (shardsReply && shardsReply.type !== RespType.Error) applyShardPorts(nodes, shardsReply);
    return { nodes, source: target, at: Date.now() };
  } finally {
    sock.destroy();
  }
}

/** Copy `port` / `tls-port` of each node from a CLUSTER SHARDS reply. */
function applyShardPorts(nodes: ClusterNode[], shards: RespNode): void {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const plain = toPlain(shards);
  if (!Array.isArray(plain)) return;
  for (const shard of plain) {
    const s = asMap(shard);
    const list = s?.get('nodes');
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      const m = asMap(entry);
      const n = m && byId.get(String(m.get('id')));
      if (!n || !m) continue;
      if (typeof m.get('port') === 'number') n.tcpPort = m.get('port') as number;
      if (typeof m.get('tls-port') === 'number') n.tlsPort = m.get('tls-port') as number;
    }
  }
}

/** RESP2 maps arrive as flat arrays, RESP3 maps as objects (see `toPlain`). */
function asMap(v: unknown): Map<string, unknown> | null {
  if (Array.isArray(v)) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < v.length; i += 2) m.set(String(v[i]), v[i + 1]);
    return m;
  }
  if (v && typeof v === 'object') return new Map(Object.entries(v));
  return null;
}

/** A stable text of what matters for mapping and routing, to tell whether a rescan changed anything. */
export function topologySignature(t: Topology): string {
  return [...t.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map(
      (n) =>
        `${n.id} ${n.ip} ${n.port} ${n.tlsPort} ${n.tcpPort} ${n.hostname} ${n.role} ${n.masterId ?? '-'} ${n.slots.map((s) => s.join('-')).join(',')}`,
    )
    .join('\n');
}

/**
 * Each node's flags and link state as the node asked reports them (`myself` aside, which depends on
 * who is asked): they change no route, but STATUSCLUSTER shows them (`fail`, `disconnected` …).
 */
export function nodeStateSignature(t: Topology): string {
  return [...t.nodes]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((n) => `${n.id} ${n.flags.filter((f) => f !== 'myself').join(',')} ${n.connected ? 1 : 0}`)
    .join('\n');
}

/** Options of a `TopologyService`. */
export interface TopologyOptions {
  readonly spec: MappingSpec;
  /** Nodes to ask, in order (`redisServers`). */
  readonly seeds: readonly HostPort[];
  readonly dial: Dialer;
  readonly log: Logger;
  readonly auth?: RedisAuth;
  /** Per-node budget for connect + reply. */
  readonly timeoutMs?: number;
}

/**
 * The topology and address map of one listener. The host reads it at start and on each periodic
 * `check` (which also probes the node this proxy fronts: `health`, `ready`); `ensure` discovers it on
 * first use when no check has yet; `rescan` re-reads CLUSTER NODES from the seeds (then from the
 * nodes it already knows), coalescing concurrent calls. `map$` emits each new map whose topology
 * differs from the last; every such change after the first is logged node by node.
 */
export class TopologyService {
  readonly map$ = new BehaviorSubject<AddressMap | null>(null);
  private scanning: Promise<AddressMap> | null = null;
  private signature = '';
  /** `nodeStateSignature` of the current map. */
  private nodeStates = '';
  private readonly timeoutMs: number;
  /** Number of scans run (for tests and STATUSCLUSTER). */
  scans = 0;
  /** The last successful read, changed topology or not: how fresh the map is (STATUSCLUSTER). */
  lastRead: { readonly source: HostPort; readonly at: number } | null = null;
  /** Scans by outcome (metrics): `ok` read a topology (changed or not), `error` read none. */
  readonly scanResults = { ok: 0, error: 0 };
  /** New maps after the first one: the topology or mapping changed (metrics). */
  mappingChanges = 0;
  /** Whether this proxy's own Redis node answers (sessions' dials, probes). */
  readonly health: UpstreamHealth;
  /** The periodic check's failures, logged on transitions (and reminded at most every minute). */
  private checkFailing: { since: number; remindedAt: number } | null = null;

  constructor(private opts: TopologyOptions) {
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.health = new UpstreamHealth(opts.log);
  }

  /**
   * Ready to serve: the topology has been read, and this proxy's Redis node answers — or it fronts
   * none (a spare: more members than nodes), which is ready once the topology is read.
   */
  get ready(): boolean {
    const m = this.current;
    if (this.lastRead === null || m === null) return false;
    return m.upstream.port === 0 || this.health.state === 'reachable';
  }

  /** Why `ready` is false, for `/readyz` (undefined when ready). */
  get notReadyReason(): string | undefined {
    const m = this.current;
    if (this.lastRead === null || m === null) return 'cluster topology not read yet';
    if (m.upstream.port === 0 || this.health.state === 'reachable') return undefined;
    return this.health.state === 'unknown'
      ? `Redis node ${wireAddress(m.upstream)} not checked yet`
      : `Redis node ${wireAddress(m.upstream)} unreachable: ${this.health.reason}`;
  }

  /**
   * The start and periodic check: re-read the topology (read it, when it never was), then probe this
   * proxy's Redis node (PING on a connection of its own), so readiness and the node's transitions
   * are known without waiting for a client. Never rejects; a failing check is logged once per
   * transition.
   */
  async check(reason: string): Promise<void> {
    let map: AddressMap | null;
    try {
      map = await this.rescan(reason);
      if (this.checkFailing !== null) {
        this.opts.log.info({ downMs: Date.now() - this.checkFailing.since }, 'cluster topology readable again');
        this.checkFailing = null;
      }
    } catch (e) {
      const now = Date.now();
      const err = e instanceof Error ? e.message : String(e);
      if (this.checkFailing === null) {
        this.checkFailing = { since: now, remindedAt: now };
        this.opts.log.warn({ reason, err }, 'topology check failed');
      } else if (now - this.checkFailing.remindedAt >= STILL_UNREACHABLE_LOG_MS) {
        this.checkFailing.remindedAt = now;
        this.opts.log.warn({ reason, err, downMs: now - this.checkFailing.since }, 'topology check still failing');
      }
      map = this.current;
    }
    if (map !== null && map.upstream.port !== 0) await this.probeUpstream();
  }

  /** PING this proxy's Redis node on a connection of its own; records and returns whether it answered. */
  probeUpstream(): Promise<boolean> {
    const m = this.current;
    if (m === null || m.upstream.port === 0) return Promise.resolve(false);
    return this.health.probe(m.upstream, this.opts.dial, this.timeoutMs);
  }

  get current(): AddressMap | null {
    return this.map$.value;
  }

  get spec(): MappingSpec {
    return this.opts.spec;
  }

  get seeds(): readonly HostPort[] {
    return this.opts.seeds;
  }

  /** Replace seeds/mapping (config change); the next scan uses them. */
  reconfigure(opts: Partial<Pick<TopologyOptions, 'spec' | 'seeds' | 'auth'>>): void {
    this.opts = { ...this.opts, ...opts };
    this.signature = '';
  }

  /** The current map, discovering it first if there is none yet. */
  ensure(): Promise<AddressMap> {
    const m = this.current;
    return m ? Promise.resolve(m) : this.rescan('first connection');
  }

  /** Re-read the topology; concurrent calls share one scan. */
  rescan(reason: string): Promise<AddressMap> {
    this.scanning ??= this.scan(reason).finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  /** One line per node whose role, address or fronting proxy changed, and where this proxy's node moved. */
  private logChanges(prev: AddressMap, next: AddressMap): void {
    const log = this.opts.log;
    for (const c of topologyChanges(prev, next)) log.info(c, `cluster node ${c.change}`);
    const [a, b] = [prev.upstream, next.upstream];
    if (a.host !== b.host || a.port !== b.port)
      log.info(
        { from: a.port ? wireAddress(a) : 'none', to: b.port ? wireAddress(b) : 'none' },
        'this proxy now fronts another Redis node',
      );
  }

  private async scan(reason: string): Promise<AddressMap> {
    this.scans++;
    const { spec, log } = this.opts;
    const known = this.current?.nodes.map((n) => ({ host: n.ip || n.hostname, port: n.port })) ?? [];
    const targets = dedupe([...this.opts.seeds, ...known]);
    const errors: string[] = [];
    const reasons = new Set<string>();
    for (const target of targets) {
      let topology: Topology;
      try {
        topology = await fetchTopology(this.opts.dial, target, this.opts.auth, this.timeoutMs);
      } catch (e) {
        errors.push(`${wireAddress(target)}: ${e instanceof Error ? e.message : String(e)}`);
        reasons.add(clientTextOf(e).replace(/^slotrelay: /, ''));
        continue;
      }
      let map: AddressMap;
      try {
        map = new AddressMap(spec, topology); // throws when there are too few members
      } catch (e) {
        this.scanResults.error++;
        throw e;
      }
      this.scanResults.ok++;
      this.lastRead = { source: topology.source, at: topology.at };
      const sig = topologySignature(topology);
      if (sig !== this.signature || this.current === null) {
        this.signature = sig;
        log.info({ reason, source: wireAddress(target), nodes: topology.nodes.length }, 'cluster topology loaded');
        const prev = this.current;
        if (prev !== null) {
          this.mappingChanges++;
          this.logChanges(prev, map);
        }
        this.nodeStates = nodeStateSignature(topology);
        this.map$.next(map);
      } else {
        const states = nodeStateSignature(topology);
        // Same routes, new flags or link states: the map is replaced so what it reports is current.
        if (states !== this.nodeStates) {
          this.nodeStates = states;
          const prev = this.current;
          this.map$.next(map);
          if (prev !== null) this.logChanges(prev, map);
        }
      }
      return this.current!;
    }
    this.scanResults.error++;
    if (spec.mode === 'static' && this.current === null) {
      // Static mapping works on addresses alone; topology only adds hostname/`?` forms.
      log.warn({ reason, errors }, 'cannot read the cluster topology; using the static mapping as configured');
      const map = new AddressMap(spec, null);
      this.map$.next(map);
      return map;
    }
    // Admin commands answer with the message (an operator asked); a data client learns why, not where.
    throw new SlotrelayError(
      ErrorCode.Topology,
      `cannot read the cluster topology from any Redis server (${errors.join('; ')})`,
      `slotrelay: cannot read the cluster topology from any Redis server (${[...reasons].join('; ')}); the next connection tries again`,
    );
  }
}

function dedupe(list: HostPort[]): HostPort[] {
  const seen = new Set<string>();
  return list.filter((a) => {
    const k = wireAddress(a);
    if (seen.has(k) || a.port === 0 || a.host === '') return false;
    seen.add(k);
    return true;
  });
}
