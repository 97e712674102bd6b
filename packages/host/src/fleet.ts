import path from 'node:path';
import { Container } from 'inversify';
import {
  ConnectionConfig,
  type Dialer,
  Dialer as DialerToken,
  type ListenerInfo,
  ListenerInfoToken,
  Logger,
  Middleware,
  Pipeline,
  type ServerFactory,
  type SessionOptions,
  SlotrelayConfig,
  TopologyService,
  TopologyServiceToken,
  tcpDialer,
  tcpServer,
} from '@slotrelay/core';
import { tlsDialer, tlsServerFactory } from '@slotrelay/transport-tls';
import { DEFAULT_MIDDLEWARE, type ResolvedConnection, resolveConnection } from './config.js';
import { Listener } from './listener.js';
import { type LoadedMiddleware, loadMiddleware } from './middleware-loader.js';

/** Options of `Fleet.start`. */
export interface FleetOptions {
  /** Where relative middleware names and third-party packages are resolved from. */
  readonly configDir?: string;
  readonly log: Logger;
  readonly sessionOptions?: SessionOptions;
}

/**
 * Every active connection of one config, each a `Listener` with its own child container (its
 * config, topology, transports and middleware instances). One process can run a whole fleet.
 */
export class Fleet {
  readonly listeners = new Map<string, Listener>();
  private readonly root = new Container();

  private constructor(
    private config: SlotrelayConfig,
    private readonly modules: LoadedMiddleware[],
    private readonly opts: FleetOptions,
  ) {
    this.root.bind(Logger).toConstantValue(opts.log);
    this.root.bind(SlotrelayConfig).toConstantValue(config);
  }

  /** Load the middleware packages and start a listener per active connection. */
  static async start(config: SlotrelayConfig, opts: FleetOptions): Promise<Fleet> {
    const modules = await loadMiddleware(config.middleware ?? DEFAULT_MIDDLEWARE, path.resolve(opts.configDir ?? process.cwd()));
    const fleet = new Fleet(config, modules, opts);
    try {
      for (const c of config.connections) if (c.active) await fleet.addListener(resolveConnection(c));
    } catch (e) {
      await fleet.stop(0);
      throw e;
    }
    return fleet;
  }

  get currentConfig(): SlotrelayConfig {
    return this.config;
  }

  private async addListener(resolved: ResolvedConnection): Promise<Listener> {
    const c = resolved.config;
    const log = this.opts.log.child({ connection: c.name });
    const dial: Dialer = c.serverTls?.enabled ? tlsDialer(c.serverTls, log) : tcpDialer();
    const createServer: ServerFactory = c.clientTls?.enabled ? tlsServerFactory(c.clientTls, log) : tcpServer();
    const topology = new TopologyService({
      spec: resolved.spec,
      seeds: resolved.seeds,
      dial,
      log,
      ...(c.redisPassword ? { auth: { password: c.redisPassword, ...(c.redisUsername ? { username: c.redisUsername } : {}) } } : {}),
    });
    const info: ListenerInfo = { name: c.name, host: resolved.advertised.host, port: resolved.advertised.port, tls: c.clientTls?.enabled === true };
    const container = new Container({ parent: this.root });
    container.bind(ConnectionConfig).toConstantValue(c);
    container.bind(ListenerInfoToken).toConstantValue(info);
    container.bind(TopologyServiceToken).toConstantValue(topology);
    container.bind(DialerToken).toConstantValue(dial);
    container.bind(Logger).toConstantValue(log);
    for (const m of this.modules) container.load(m.module);
    const middleware = container.getAll<Middleware>(Middleware);
    const listener = new Listener({
      resolved,
      info,
      pipeline: new Pipeline(middleware),
      topology,
      dial,
      createServer,
      log,
      ...(this.opts.sessionOptions ? { sessionOptions: this.opts.sessionOptions } : {}),
    });
    await listener.listen();
    this.listeners.set(c.name, listener);
    return listener;
  }

  /** Stop every listener: no new clients, replies already due delivered within `graceMs`. */
  async stop(graceMs = this.config.shutdownGraceMs ?? 5000): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.stop(graceMs)));
  }
}
