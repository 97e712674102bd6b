import type { Server, Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import {
  type AddressMap,
  type Dialer,
  type HostPort,
  type LentReads,
  type ListenerInfo,
  type Logger,
  type Pipeline,
  Session,
  type SessionOptions,
  type ServerFactory,
  SlotrelayError,
  type TopologyService,
  wireAddress,
} from '@slotrelay/core/internal';
import type { TlsDialer, TlsServer } from '@slotrelay/transport-tls';
import { type ResolvedConnection, redisAuthOf } from './config.js';
import { DEFAULT_MAX_CLIENTS, applyKeepalive, refuseClient } from './limits.js';

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
  private accepted = 0;
  private rejected = 0;
  private readonly targets = new WeakMap<Session, HostPort>();
  private readonly subscription: Subscription;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** When a spare proxy last rescanned because a client connected (see `connectUpstream`). */
  private spareRescanAt = 0;
  /** Every TCP connection the server accepted and that is still open (sessions or not yet: TLS handshakes). */
  private readonly connections = new Set<Socket>();
  private parts: ListenerParts;
  /** The last dial of this listener's Redis node failed (the outage is logged once, not per session). */
  private upstreamDown = false;

  constructor(parts: ListenerParts) {
    this.parts = parts;
    this.subscription = parts.topology.map$.subscribe((map) => {
      if (!map) return;
      this.onMap(map);
      this.parts.onTopologyChange?.(this, map);
    });
    this.setTopologyCheckInterval(parts.topologyCheckIntervalMs ?? 0);
  }

  /** (Re)start the periodic CLUSTER NODES check, every `ms` once a map exists (0: off). */
  setTopologyCheckInterval(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (ms <= 0 || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.parts.topology.current)
        this.parts.topology
          .rescan('periodic check')
          .catch((e: unknown) =>
            this.parts.log.warn({ err: String((e as Error).message ?? e) }, 'periodic topology check failed'),
          );
    }, ms);
    this.timer.unref();
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
    return this.accepted;
  }

  /** Clients refused since start because `maxClients` were connected (Redis's `rejected_connections`). */
  get rejectedCount(): number {
    return this.rejected;
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
    this.parts = { ...this.parts, resolved };
    this.parts.info.host = resolved.advertised.host;
    this.parts.info.port = resolved.advertised.port;
  }

  /** New sessions use this pipeline (a changed middleware list); existing ones keep theirs. */
  setPipeline(pipeline: Pipeline): void {
    this.parts = { ...this.parts, pipeline };
  }

  private accept(socket: Socket, reads?: LentReads): void {
    const { log, pipeline } = this.parts;
    const limits = this.parts.resolved.config;
    if (this.sessions.size >= (limits.maxClients ?? DEFAULT_MAX_CLIENTS)) {
      this.rejected++;
      refuseClient(socket, reads);
      return;
    }
    this.accepted++;
    applyKeepalive(socket, limits.tcpKeepalive);
    socket.on('error', () => {}); // errors before the session attaches its own handler
    const max = limits.maxWholeFrameBytes;
    const options =
      max === undefined ? this.parts.sessionOptions : { ...this.parts.sessionOptions, maxWholeFrameBytes: max };
    const session = new Session(socket, this.parts.info, pipeline, (s) => this.connectUpstream(s), log, options, reads);
    this.sessions.add(session);
    session.onClose(() => this.sessions.delete(session));
    session.start();
  }

  /** Resolve this instance's Redis node from the mapping, then dial it. */
  private async connectUpstream(session: Session): Promise<Socket> {
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
    let sock: Socket;
    try {
      sock = await this.parts.dial(target, session.upstreamReads);
    } catch (e) {
      if (!this.upstreamDown) {
        this.upstreamDown = true;
        this.parts.log.warn(
          { err: (e as Error).message },
          'Redis node unreachable: sessions close without a reply at their first request for it, until it answers again',
        );
      }
      // Our node may have moved or gone: look again so the next connection gets the new mapping.
      topology.rescan('upstream unreachable').catch(() => {});
      throw e;
    }
    if (this.upstreamDown) {
      this.upstreamDown = false;
      this.parts.log.info({ redis: wireAddress(target) }, 'Redis node reachable again');
    }
    this.targets.set(session, target);
    sock.once('close', () => {
      if (!session.isClosed) topology.rescan('upstream connection lost').catch(() => {});
    });
    return sock;
  }

  /** A new map: sessions connected to a node this instance no longer fronts are closed cleanly. */
  private onMap(map: AddressMap): void {
    const now = map.upstream;
    for (const s of this.sessions) {
      const t = this.targets.get(s);
      if (t && (t.host !== now.host || t.port !== now.port)) {
        this.parts.log.info(
          { session: s.id, from: wireAddress(t), to: now.port ? wireAddress(now) : 'none' },
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
    // Sessions delivered what was due (or ran out of grace); nothing else may hold the server open.
    for (const raw of this.connections) raw.destroy();
    await closed;
    this.parts.log.info({}, 'listener stopped');
  }
}
