import type { Server, Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import {
  type AddressMap,
  type Dialer,
  type HostPort,
  type LentReads,
  type ListenerInfo,
  type ListenerCounters,
  type Logger,
  type Pipeline,
  Session,
  type SessionOptions,
  type SessionStats,
  type ServerFactory,
  SlotrelayError,
  type TopologyService,
  UpstreamPool,
  countIn,
  failureReason,
  newListenerCounters,
  newSessionStats,
  wireAddress,
} from '@slotrelay/core/internal';
import type { TlsDialer, TlsServer } from '@slotrelay/transport-tls';
import { type ResolvedConnection, redisAuthOf } from './config.js';
import { DEFAULT_MAX_CLIENTS, applyKeepalive, refuseClient } from './limits.js';
import { type SessionLogger, sessionLogger } from './session-log.js';
import { DEFAULT_POOL_SIZE, SharedPools } from './shared-pools.js';

/** A spare proxy rescans on a new client at most this often. */
const SPARE_RESCAN_MIN_MS = 250;

/** Everything a listener is built from. */
export interface ListenerParts {
  readonly resolved: ResolvedConnection;
  /** Mutable: updated in place when the connection's mapping changes. */
  readonly info: { -readonly [K in keyof ListenerInfo]: ListenerInfo[K] };
  readonly pipeline: Pipeline;
  readonly topology: TopologyService;
  readonly dial: Dialer;
  readonly createServer: ServerFactory;
  /** TLS handles, to reload certificates in place. */
  readonly tls: { readonly server?: TlsServer; readonly dialer?: TlsDialer };
  readonly log: Logger;
  readonly sessionOptions?: SessionOptions;
  /** Periodic CLUSTER NODES check once a map exists, ms (0: off). */
  readonly topologyCheckIntervalMs?: number;
  /** Told of every new map this listener's topology emits (the fleet keeps its listeners in step). */
  readonly onTopologyChange?: (listener: Listener, map: AddressMap) => void;
  /** How long a session whose upstream moved gets to deliver replies already due. */
  readonly remapGraceMs?: number;
  /** The counters this listener's middleware add to (bound in its container); default: its own. */
  readonly counters?: ListenerCounters;
}

/**
 * What a listener counts itself, besides its sessions' `SessionStats` and its middleware's
 * `ListenerCounters`: plain integers and bounded maps, read by the metrics at scrape time.
 */
export interface ListenerCounts {
  /** Client connections that became sessions. */
  accepted: number;
  /** Client connections closed at once, without a session (a limit, shutting down). */
  refused: number;
  /** Sessions' upstream connections opened, by Redis node address. */
  readonly upstreamConnects: Map<string, number>;
  /** Sessions' failed dials, by `<node address> <reason>` (reason: `failureReason`, bounded). */
  readonly upstreamFailures: Map<string, number>;
}

/**
 * One proxy in front of one Redis node: a server socket, the sessions it accepted, and how a
 * session finds its upstream (the node the mapping assigns to this instance). It keeps the mapping
 * current by itself: periodic checks, a rescan when an upstream is lost, and sessions whose node
 * changed are closed cleanly so their clients reconnect to the right one.
 */
export class Listener {
  readonly sessions = new Set<Session>();
  private server: Server | null = null;
  private readonly targets = new WeakMap<Session, HostPort>();
  private readonly subscription: Subscription;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** When a spare proxy last rescanned because a client connected (see `connectUpstream`). */
  private spareRescanAt = 0;
  /** Every TCP connection the server accepted and that is still open (sessions or not yet: TLS handshakes). */
  private readonly connections = new Set<Socket>();
  private parts: ListenerParts;
  /** What this listener's sessions count (session-cut's `Session` adds to it; metrics read it). */
  readonly stats: SessionStats = newSessionStats();
  readonly counters: ListenerCounters;
  readonly counts: ListenerCounts = {
    accepted: 0,
    refused: 0,
    upstreamConnects: new Map(),
    upstreamFailures: new Map(),
  };
  /** Shared connections, one pool per Redis node this listener fronted (the current one, and one being left). */
  private readonly pools: SharedPools;

  constructor(parts: ListenerParts) {
    this.parts = parts;
    this.counters = parts.counters ?? newListenerCounters();
    this.pools = new SharedPools((t, reads) => this.dialShared(t, reads), parts.log);
    this.subscription = parts.topology.map$.subscribe((map) => {
      if (!map) return;
      this.onMap(map);
      this.parts.onTopologyChange?.(this, map);
    });
    this.setTopologyCheckInterval(parts.topologyCheckIntervalMs ?? 0);
  }

  /**
   * (Re)start the periodic check every `ms` (0: off): CLUSTER NODES read again (or for the first
   * time, while no seed answered yet), then this proxy's Redis node probed (`TopologyService.check`).
   */
  setTopologyCheckInterval(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (ms <= 0 || this.stopped) return;
    this.timer = setInterval(() => void this.parts.topology.check('periodic check'), ms);
    this.timer.unref();
  }

  /** Shared upstream connections open (or opening) now, over every pool of this listener. */
  get sharedConnections(): number {
    return this.pools.connections;
  }

  /** Ready to serve (`/readyz`): topology read and this proxy's Redis node reachable (see `TopologyService.ready`). */
  get ready(): boolean {
    return !this.stopped && this.parts.topology.ready;
  }

  get name(): string {
    return this.parts.resolved.config.name;
  }

  get topology(): TopologyService {
    return this.parts.topology;
  }

  get info(): ListenerInfo {
    return this.parts.info;
  }

  get resolved(): ResolvedConnection {
    return this.parts.resolved;
  }

  get tls(): ListenerParts['tls'] {
    return this.parts.tls;
  }

  get pipeline(): Pipeline {
    return this.parts.pipeline;
  }

  /** Sessions accepted since start. */
  get acceptedCount(): number {
    return this.counts.accepted;
  }

  /** Clients refused since start because `maxClients` were connected (Redis's `rejected_connections`). */
  get rejectedCount(): number {
    return this.counts.refused;
  }

  /** Start listening; rejects with a clear message when the port cannot be bound. */
  listen(): Promise<void> {
    const { config } = this.parts.resolved;
    const server = this.parts.createServer((socket, reads) => this.accept(socket, reads));
    this.server = server;
    // Raw TCP connections, TLS or not: one that never becomes a session (a TLS handshake the client
    // gave up on) would otherwise keep `server.close()` — and so shutdown — waiting.
    server.on('connection', (raw: Socket) => {
      this.connections.add(raw);
      raw.once('close', () => this.connections.delete(raw));
    });
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new SlotrelayError(
            'SR_ERR_LISTEN',
            `connection '${config.name}': cannot listen on ${config.localAddress}:${config.localPort}: ${e.code ?? e.message}`,
          ),
        ),
      );
      server.listen(config.localPort, config.localAddress, () => {
        server.on('error', (e) => this.parts.log.error({ err: e.message }, 'listener error'));
        // Readiness never waits for a client: the topology is read, and the node probed, from the start.
        void this.parts.topology.check('start');
        this.parts.log.info(
          {
            address: `${config.localAddress}:${config.localPort}`,
            advertised: wireAddress(this.parts.resolved.advertised),
          },
          'listening',
        );
        resolve();
      });
    });
  }

  /**
   * Apply a changed mapping (seeds, members, instance ID, mapping mode) without rebinding: the
   * next scan uses it, and sessions whose node changes are closed by `onMap`.
   */
  async remap(resolved: ResolvedConnection): Promise<void> {
    this.setResolved(resolved);
    // Credentials too: discovery must not go on with the old ones (they were left out before).
    this.parts.topology.reconfigure({ spec: resolved.spec, seeds: resolved.seeds, auth: redisAuthOf(resolved.config) });
    if (this.parts.topology.current) await this.parts.topology.rescan('config change');
  }

  /**
   * The connection's config changed in a way that needs neither a new server nor a new mapping
   * (certificate paths, already reloaded by the caller): remember it, so a later SIGHUP re-reads the
   * files now configured rather than the ones of the start.
   */
  setResolved(resolved: ResolvedConnection): void {
    const timeout = resolved.config.timeout ?? 0;
    // Redis's `timeout` applies to the clients already connected too.
    if (timeout !== (this.parts.resolved.config.timeout ?? 0))
      for (const s of this.sessions) s.idleTimeoutMs = timeout * 1000;
    this.parts = { ...this.parts, resolved };
    this.parts.info.host = resolved.advertised.host;
    this.parts.info.port = resolved.advertised.port;
  }

  /** New sessions use this pipeline (a changed middleware list); existing ones keep theirs. */
  setPipeline(pipeline: Pipeline): void {
    this.parts = { ...this.parts, pipeline };
  }

  private accept(socket: Socket, reads?: LentReads): void {
    const { pipeline } = this.parts;
    const limits = this.parts.resolved.config;
    if (this.sessions.size >= (limits.maxClients ?? DEFAULT_MAX_CLIENTS)) {
      this.counts.refused++;
      refuseClient(socket, reads);
      return;
    }
    this.counts.accepted++;
    applyKeepalive(socket, limits.tcpKeepalive);
    socket.on('error', () => {}); // errors before the session attaches its own handler
    const { maxWholeFrameBytes: max, timeout } = limits;
    // `stats`: the session adds to this listener's counters (SessionOptions.stats, from the session cut).
    const options: SessionOptions & { stats: SessionStats } = {
      ...this.parts.sessionOptions,
      ...(max === undefined ? {} : { maxWholeFrameBytes: max }),
      ...(timeout === undefined ? {} : { idleTimeoutMs: timeout * 1000 }),
      stats: this.stats,
    };
    // Sharing is the default: the session takes a connection of its node's pool unless it pins.
    let session: Session | null = null;
    if (limits.multiplex !== false) options.sharedPool = () => this.poolFor(session!);
    // Every line about the session names its client and, once dialed, its upstream's local port.
    const log = sessionLogger(this.parts.log, `${socket.remoteAddress}:${socket.remotePort}`);
    session = new Session(socket, this.parts.info, pipeline, (s) => this.connectUpstream(s, log), log, options, reads);
    log.fields.session = session.id;
    const s = session;
    this.sessions.add(s);
    const opened = Date.now();
    s.onClose(() => {
      this.sessions.delete(s);
      log.debug({ session: s.id, durationMs: Date.now() - opened }, 'session closed');
    });
    s.start();
  }

  /** Resolve this instance's Redis node from the mapping, then dial it. */
  private async connectUpstream(session: Session, log: SessionLogger): Promise<Socket> {
    const target = await this.resolveTarget();
    const node = wireAddress(target);
    const sock = await this.dialTarget(target, session.upstreamReads);
    log.fields.upstreamPort = sock.localPort;
    log.debug({ session: session.id, redis: node }, 'session opened');
    this.targets.set(session, target);
    const topology = this.parts.topology;
    sock.once('close', () => {
      if (session.isClosed) return;
      // Redis closed a session's connection: if the node died, say so now, not at the next client.
      topology.rescan('upstream connection lost').catch(() => {});
      void topology.probeUpstream();
    });
    return sock;
  }

  /** The pool of shared connections to this instance's Redis node (made on first use). */
  private async poolFor(session: Session): Promise<UpstreamPool> {
    const target = await this.resolveTarget();
    this.targets.set(session, target);
    return this.poolOf(target);
  }

  private poolOf(target: HostPort): UpstreamPool {
    const size = this.parts.resolved.config.upstreamPool?.size ?? DEFAULT_POOL_SIZE;
    return this.pools.poolOf(target, size, this.parts.sessionOptions?.limits?.maxBulkBytes ?? 512 * 1024 * 1024);
  }

  /** Dial for the shared pool: a loss makes the node be looked at again, as a session's would. */
  private async dialShared(target: HostPort, reads: LentReads): Promise<Socket> {
    const sock = await this.dialTarget(target, reads);
    sock.once('close', () => {
      if (this.stopped) return;
      this.parts.topology.rescan('upstream connection lost').catch(() => {});
      void this.parts.topology.probeUpstream();
    });
    return sock;
  }

  /** This instance's Redis node, from the mapping (a spare proxy looks again first). */
  private async resolveTarget(): Promise<HostPort> {
    const topology = this.parts.topology;
    let map = await topology.ensure();
    if (map.upstream.port === 0 && Date.now() - this.spareRescanAt >= SPARE_RESCAN_MIN_MS) {
      // A spare proxy (more members than nodes) that gets a client: some proxy with a newer map has
      // probably named it — the cluster grew. Look again before refusing (at most every 250 ms).
      this.spareRescanAt = Date.now();
      map = await topology.rescan('a client connected to a spare proxy');
    }
    const target = map.upstream;
    if (target.port === 0) {
      const spec = this.parts.resolved.spec;
      throw new SlotrelayError(
        'SR_ERR_TOPOLOGY',
        `this proxy (instance ${spec.mode === 'dynamic' ? spec.instanceId : '?'}) has no Redis node to front: the cluster has ${map.nodes.length} nodes`,
      );
    }
    return target;
  }

  /** Dial the node, counting the connection or the failure and keeping the node's health current. */
  private async dialTarget(target: HostPort, reads?: LentReads): Promise<Socket> {
    const topology = this.parts.topology;
    const node = wireAddress(target);
    let sock: Socket;
    try {
      sock = await this.parts.dial(target, reads);
    } catch (e) {
      countIn(this.counts.upstreamFailures, `${node} ${failureReason(e)}`);
      // Logged once per transition there, not once per client.
      topology.health.unreachable(target, e);
      // Our node may have moved or gone: look again so the next connection gets the new mapping.
      topology.rescan('upstream unreachable').catch(() => {});
      throw e;
    }
    countIn(this.counts.upstreamConnects, node);
    // A connect proves nothing (the kernel accepts for a hung Redis): only a PING answered does.
    if (topology.health.state !== 'reachable') void topology.probeUpstream();
    return sock;
  }

  /** A new map: sessions connected to a node this instance no longer fronts are closed cleanly. */
  private onMap(map: AddressMap): void {
    const now = map.upstream;
    // Sessions on a pool left behind are drained below; what they are owed still comes through it.
    this.pools.keepOnly(now, this.parts.remapGraceMs ?? 2000);
    const pool = now.port && this.parts.resolved.config.multiplex !== false ? this.poolOf(now) : null;
    for (const s of this.sessions) {
      const t = this.targets.get(s);
      if (t && (t.host !== now.host || t.port !== now.port)) {
        // A shared session that has sent nothing yet just moves: closing it would drop the request
        // its client is sending right now (it connected an instant before the new map).
        if (pool !== null && s.repoint(pool)) {
          this.targets.set(s, now);
          continue;
        }
        this.parts.log.info(
          { session: s.id, client: s.clientAddress, from: wireAddress(t), to: now.port ? wireAddress(now) : 'none' },
          'mapping changed: closing session so its client reconnects',
        );
        this.targets.delete(s);
        void s.drain(this.parts.remapGraceMs ?? 2000);
      }
    }
  }

  /** Stop accepting, let sessions deliver what is due (bounded by `graceMs`), then close them. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.subscription.unsubscribe();
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    await Promise.all([...this.sessions].map((s) => s.drain(graceMs)));
    this.pools.close();
    // Sessions delivered what was due (or ran out of grace); nothing else may hold the server open.
    for (const raw of this.connections) raw.destroy();
    await closed;
    this.parts.log.info({}, 'listener stopped');
  }
}
