import type { Server, Socket } from 'node:net';
import {
  type Dialer,
  type ListenerInfo,
  type Logger,
  type Pipeline,
  Session,
  type SessionOptions,
  SlotrelayError,
  type TopologyService,
  wireAddress,
} from '@slotrelay/core';
import type { ResolvedConnection } from './config.js';

/** Everything a listener is built from. */
export interface ListenerParts {
  readonly resolved: ResolvedConnection;
  readonly info: ListenerInfo;
  readonly pipeline: Pipeline;
  readonly topology: TopologyService;
  readonly dial: Dialer;
  readonly createServer: (onConnection: (socket: Socket) => void) => Server;
  readonly log: Logger;
  readonly sessionOptions?: SessionOptions;
}

/**
 * One proxy in front of one Redis node: a server socket, the sessions it accepted, and how a
 * session finds its upstream (the node the mapping assigns to this instance).
 */
export class Listener {
  readonly sessions = new Set<Session>();
  private server: Server | null = null;
  private accepted = 0;

  constructor(private readonly parts: ListenerParts) {}

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

  /** Sessions accepted since start. */
  get acceptedCount(): number {
    return this.accepted;
  }

  /** Start listening; rejects with a clear message when the port cannot be bound. */
  listen(): Promise<void> {
    const { config } = this.parts.resolved;
    const server = this.parts.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new SlotrelayError('SR_ERR_LISTEN', `connection '${config.name}': cannot listen on ${config.localAddress}:${config.localPort}: ${e.code ?? e.message}`)),
      );
      server.listen(config.localPort, config.localAddress, () => {
        server.on('error', (e) => this.parts.log.error({ err: e.message }, 'listener error'));
        this.parts.log.info({ address: `${config.localAddress}:${config.localPort}`, advertised: wireAddress(this.parts.resolved.advertised) }, 'listening');
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    this.accepted++;
    const { log, pipeline } = this.parts;
    socket.on('error', () => {}); // errors before the session attaches its own handler
    const session = new Session(socket, this.parts.info, pipeline, () => this.connectUpstream(), log, this.parts.sessionOptions);
    this.sessions.add(session);
    session.onClose(() => this.sessions.delete(session));
    session.start();
  }

  /** Resolve this instance's Redis node from the mapping, then dial it. */
  private async connectUpstream(): Promise<Socket> {
    const topology = this.parts.topology;
    const map = await topology.ensure();
    const target = map.upstream;
    if (target.port === 0) {
      throw new SlotrelayError('SR_ERR_TOPOLOGY', `this proxy (instance ${this.parts.resolved.spec.mode === 'dynamic' ? this.parts.resolved.spec.instanceId : '?'}) has no Redis node to front: the cluster has ${map.nodes.length} nodes`);
    }
    try {
      return await this.parts.dial(target);
    } catch (e) {
      // Our node may have moved or gone: look again so the next connection gets the new mapping.
      topology.rescan('upstream unreachable').catch(() => {});
      throw e;
    }
  }

  /** Stop accepting, let sessions deliver what is due (bounded by `graceMs`), then close them. */
  async stop(graceMs: number): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    await Promise.all([...this.sessions].map((s) => s.drain(graceMs)));
    await closed;
    this.parts.log.info({}, 'listener stopped');
  }
}
