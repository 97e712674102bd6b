import path from 'node:path';
import jsonpatch from 'fast-json-patch';
import { Container } from 'inversify';
import {
  ConnectionConfig,
  type Dialer,
  Dialer as DialerToken,
  FleetControl,
  ListenerCounters,
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
} from '@slotrelay/core/internal';
import type { TlsChange } from '@slotrelay/transport-tls';
import {
  ConfigError,
  DEFAULT_MIDDLEWARE,
  type ResolvedConnection,
  requireTls,
  resolveConnection,
  validateConfig,
} from './config.js';
import { Listener } from './listener.js';
import { type LoadedMiddleware, loadMiddleware } from './middleware-loader.js';
import { type PatchSource, networkPatchRefusal } from './patch-policy.js';
import { describePatchError, maskSecrets, settingChanges } from './config-change.js';
import { TopologySync } from './topology-sync.js';
import { FleetOps } from './fleet-ops.js';

/** Options of `Fleet.start`. */
export interface FleetOptions {
  /** Where relative middleware names and third-party packages are resolved from. */
  readonly configDir?: string;
  readonly log: Logger;
  readonly sessionOptions?: SessionOptions;
  /** Environment for instance IDs when a patched config is validated (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Called when a config change sets `log.level` (undefined: the key was removed), so the process's
   * logger follows it. Without it the new level is recorded but the logger keeps its level.
   */
  readonly setLogLevel?: (level: LogLevelName | undefined) => void;
}

/** A `log.level` value. */
export type LogLevelName = NonNullable<NonNullable<SlotrelayConfig['log']>['level']>;

/** Default periodic topology check: Gallium Data users had to run SCANCLUSTER by hand. */
const DEFAULT_CHECK_MS = 5000;

/** Fields of a connection that can change without rebinding its listener. */
const MAPPING_FIELDS = [
  'redisServers',
  'mappings',
  'clusterMembers',
  'instanceId',
  'mappingStrategy',
  'redisUsername',
  'redisPassword',
] as const;

/**
 * Every active connection of one config, each a `Listener` with its own child container (its
 * config, topology, transports and middleware instances). One process can run a whole fleet.
 * Implements `FleetControl`: the running config can be read and patched (admin commands, --watch),
 * validated by the same schema as the file and applied all or nothing.
 */
export class Fleet implements FleetControl {
  readonly listeners = new Map<string, Listener>();
  private readonly root = new Container();
  /** One object for the process's whole life: middleware hold it and read its fields live. */
  private readonly config: SlotrelayConfig;
  private modules: LoadedMiddleware[];
  private changes: Promise<unknown> = Promise.resolve();
  private readonly sync: TopologySync;
  /** Metrics, the health endpoint, readiness and the SIGTERM drain. */
  readonly ops: FleetOps;

  private constructor(
    config: SlotrelayConfig,
    modules: LoadedMiddleware[],
    private readonly opts: FleetOptions,
  ) {
    this.config = structuredClone(config);
    this.modules = modules;
    this.root.bind(Logger).toConstantValue(opts.log);
    this.root.bind(SlotrelayConfig).toConstantValue(this.config);
    this.root.bind(FleetControl).toConstantValue(this);
    this.sync = new TopologySync(this.listeners, opts.log);
    this.ops = new FleetOps(this.config, this.listeners, opts.log);
  }

  /** Load the middleware packages and start a listener per active connection. */
  static async start(config: SlotrelayConfig, opts: FleetOptions): Promise<Fleet> {
    const modules = await loadMiddleware(
      config.middleware ?? DEFAULT_MIDDLEWARE,
      path.resolve(opts.configDir ?? process.cwd()),
    );
    const fleet = new Fleet(config, modules, opts);
    try {
      for (const c of fleet.config.connections) if (c.active) await fleet.startListener(resolveConnection(c));
      await fleet.ops.start();
    } catch (e) {
      await fleet.stop(0);
      throw e;
    }
    return fleet;
  }

  /** The running config, secrets masked. */
  currentConfig(): SlotrelayConfig {
    return maskSecrets(structuredClone(this.config));
  }

  /** The running config as is (for diffs against a file). */
  rawConfig(): SlotrelayConfig {
    return structuredClone(this.config);
  }

  /**
   * Apply an RFC 6902 patch to the running config: `test` ops honoured, the result validated by the
   * config schema, then applied — all or nothing. Changes are applied one at a time. A `network`
   * patch (the default: what admin commands send) is first checked by `networkPatchRefusal`; a
   * refused patch has no effect at all (nothing read, imported, bound or dialled). `file` is for
   * the operator's own config file (`--watch`).
   */
  patch(ops: unknown, source: PatchSource = 'network'): Promise<string> {
    const run = this.changes.then(() => this.applyPatch(ops, source));
    this.changes = run.catch(() => {});
    return run;
  }

  private async applyPatch(ops: unknown, source: PatchSource): Promise<string> {
    if (!Array.isArray(ops)) throw new ConfigError('config patch should be a JSON array of RFC 6902 operations');
    const opError = jsonpatch.validate(ops as jsonpatch.Operation[], this.config);
    if (opError) throw new ConfigError(`config patch: ${describePatchError(opError)}`);
    let next: unknown;
    try {
      next = jsonpatch.applyPatch(structuredClone(this.config), ops as jsonpatch.Operation[], false, true).newDocument;
    } catch (e) {
      throw new ConfigError(`config patch: ${describePatchError(e)}`);
    }
    // Before validation: validating reads the TLS files a patch names.
    const refusal = source === 'network' ? networkPatchRefusal(this.config, next) : undefined;
    if (refusal !== undefined) throw new ConfigError(refusal);
    const validated = validateConfig(next, this.opts.env ?? process.env);
    return this.apply(validated);
  }

  /**
   * Move the running process to `next` (already validated). New listeners are bound first; if one
   * cannot be, every new one is closed again and nothing changes.
   */
  private async apply(next: SlotrelayConfig): Promise<string> {
    const summary: string[] = [];
    const oldByName = new Map(this.config.connections.map((c) => [c.name, c]));
    const middlewareChanged =
      JSON.stringify(next.middleware ?? DEFAULT_MIDDLEWARE) !==
      JSON.stringify(this.config.middleware ?? DEFAULT_MIDDLEWARE);

    const toStart: ResolvedConnection[] = [];
    const toStop: Listener[] = [];
    const toRemap: Array<[Listener, ResolvedConnection]> = [];
    // Listeners that go on running: they take the new connection config (TLS paths for SIGHUP …).
    const toUpdate: Array<[Listener, ResolvedConnection]> = [];
    // Certificates are read and checked here, before anything changes; committed at the end.
    const tlsChanges: Array<[Listener, TlsChange]> = [];
    for (const c of next.connections) {
      const old = oldByName.get(c.name);
      const running = this.listeners.get(c.name);
      const resolved = resolveConnection(c);
      if (!c.active) {
        if (running) toStop.push(running);
        continue;
      }
      if (!running || !old) {
        toStart.push(resolved);
        continue;
      }
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
      // A new address or switching TLS on/off needs a new server; new certificates do not.
      const rebind =
        !same(old.localAddress, c.localAddress) ||
        !same(old.localPort, c.localPort) ||
        !same(old.clientTls?.enabled === true, c.clientTls?.enabled === true) ||
        !same(old.serverTls?.enabled === true, c.serverTls?.enabled === true);
      if (rebind) {
        toStop.push(running);
        toStart.push(resolved);
        continue;
      }
      if (!same(old.clientTls, c.clientTls) && c.clientTls?.enabled)
        tlsChanges.push([running, running.tls.server!.prepare(c.clientTls)]);
      if (!same(old.serverTls, c.serverTls) && c.serverTls?.enabled)
        tlsChanges.push([running, running.tls.dialer!.prepare(c.serverTls)]);
      if (MAPPING_FIELDS.some((k) => !same(old[k], c[k]))) toRemap.push([running, resolved]);
      else toUpdate.push([running, resolved]);
    }
    const nextNames = new Set(next.connections.map((c) => c.name));
    for (const [name, l] of this.listeners) if (!nextNames.has(name)) toStop.push(l);
    // Everything that can be checked is checked above; importing runs code, so it comes last.
    const modules = middlewareChanged
      ? await loadMiddleware(next.middleware ?? DEFAULT_MIDDLEWARE, path.resolve(this.opts.configDir ?? process.cwd()))
      : this.modules;

    // Rebinding the same address: the old listener must let go of the port first.
    const sameAddress = (a: ResolvedConnection, l: Listener) =>
      a.config.localPort === l.resolved.config.localPort && a.config.localAddress === l.resolved.config.localAddress;
    const started: Listener[] = [];
    const stoppedEarly: Listener[] = [];
    try {
      for (const r of toStart) {
        const blocking = toStop.find((l) => sameAddress(r, l) && !stoppedEarly.includes(l));
        if (blocking) {
          await blocking.stop(0);
          this.listeners.delete(blocking.name);
          stoppedEarly.push(blocking);
        }
        started.push(await this.createListener(r, modules));
      }
    } catch (e) {
      await Promise.all(started.map((l) => l.stop(0)));
      for (const l of stoppedEarly) await this.startListener(l.resolved, this.modules).catch(() => {});
      throw e instanceof ConfigError ? e : new ConfigError(`config change not applied: ${(e as Error).message}`);
    }

    for (const l of toStop) {
      if (!stoppedEarly.includes(l)) {
        await l.stop(this.config.shutdownGraceMs ?? 5000);
        if (this.listeners.get(l.name) === l) this.listeners.delete(l.name);
      }
      summary.push(`stopped ${l.name}`);
    }
    for (const l of started) {
      this.listeners.set(l.name, l);
      summary.push(`started ${l.name} on ${l.resolved.config.localAddress}:${l.resolved.config.localPort}`);
    }
    if (middlewareChanged) {
      this.modules = modules;
      for (const l of this.listeners.values()) {
        if (!started.includes(l))
          l.setPipeline(
            new Pipeline(this.containerFor(l.resolved, modules, l.topology, undefined).getAll<Middleware>(Middleware)),
          );
      }
      summary.push('middleware reloaded for new sessions');
    }
    // Process-wide settings: named in the summary, and applied where something holds a copy.
    const prev = this.config;
    summary.push(...settingChanges(prev, next));
    const levelChanged = prev.log?.level !== next.log?.level;
    const intervalChanged =
      (prev.topologyCheckIntervalMs ?? DEFAULT_CHECK_MS) !== (next.topologyCheckIntervalMs ?? DEFAULT_CHECK_MS);
    // Commit the new config in place (middleware hold this object).
    for (const k of Object.keys(this.config)) delete (this.config as unknown as Record<string, unknown>)[k];
    Object.assign(this.config, structuredClone(next));
    if (levelChanged) this.opts.setLogLevel?.(next.log?.level);
    // Listeners started above read the interval of the old config: set it on every listener.
    if (intervalChanged)
      for (const l of this.listeners.values())
        l.setTopologyCheckInterval(next.topologyCheckIntervalMs ?? DEFAULT_CHECK_MS);
    for (const [l, change] of tlsChanges) {
      change.commit();
      summary.push(`reloaded TLS of ${l.name}`);
    }
    for (const [l, r] of toUpdate) l.setResolved(r);
    for (const [l, r] of toRemap) {
      summary.push(`remapped ${l.name}`);
      await l.remap(r).catch((e: unknown) => summary.push(`(${l.name}: ${(e as Error).message})`));
    }
    const text = summary.length ? summary.join('; ') : 'no change';
    this.opts.log.info({ summary: text }, 'config applied');
    return text;
  }

  private async startListener(resolved: ResolvedConnection, modules = this.modules): Promise<Listener> {
    const l = await this.createListener(resolved, modules);
    this.listeners.set(l.name, l);
    return l;
  }

  /** Build a listener for one connection: transports, topology, child container, pipeline; then bind. */
  private async createListener(resolved: ResolvedConnection, modules: LoadedMiddleware[]): Promise<Listener> {
    const c = resolved.config;
    const log = this.opts.log.child({ connection: c.name });
    const tlsServer = c.clientTls?.enabled ? requireTls('clientTls').createTlsServer(c.clientTls, log) : undefined;
    const tlsDialer = c.serverTls?.enabled ? requireTls('serverTls').createTlsDialer(c.serverTls, log) : undefined;
    const dial: Dialer = tlsDialer?.dial ?? tcpDialer();
    const createServer: ServerFactory = tlsServer?.factory ?? tcpServer();
    const topology = new TopologyService({
      spec: resolved.spec,
      seeds: resolved.seeds,
      dial,
      log,
      ...(c.redisPassword
        ? { auth: { password: c.redisPassword, ...(c.redisUsername ? { username: c.redisUsername } : {}) } }
        : {}),
    });
    const info = {
      name: c.name,
      host: resolved.advertised.host,
      port: resolved.advertised.port,
      tls: c.clientTls?.enabled === true,
    };
    const container = this.containerFor(resolved, modules, topology, dial, info);
    const listener = new Listener({
      resolved,
      info,
      pipeline: new Pipeline(container.getAll<Middleware>(Middleware)),
      topology,
      dial,
      createServer,
      tls: { ...(tlsServer ? { server: tlsServer } : {}), ...(tlsDialer ? { dialer: tlsDialer } : {}) },
      log,
      topologyCheckIntervalMs: this.config.topologyCheckIntervalMs ?? DEFAULT_CHECK_MS,
      onTopologyChange: (from, map) => this.sync.changed(from, map),
      counters: this.ops.countersFor(topology),
      ...(this.opts.sessionOptions ? { sessionOptions: this.opts.sessionOptions } : {}),
    });
    this.ops.added(listener);
    try {
      await listener.listen();
    } catch (e) {
      await listener.stop(0);
      throw e;
    }
    return listener;
  }

  /** The child container of one listener: its config, info, topology, dialer, logger and middleware. */
  private containerFor(
    resolved: ResolvedConnection,
    modules: LoadedMiddleware[],
    topology: TopologyService,
    dial: Dialer | undefined,
    info = {
      name: resolved.config.name,
      host: resolved.advertised.host,
      port: resolved.advertised.port,
      tls: resolved.config.clientTls?.enabled === true,
    },
  ): Container {
    const container = new Container({ parent: this.root });
    container.bind(ConnectionConfig).toConstantValue(resolved.config);
    container.bind(ListenerInfoToken).toConstantValue(info);
    container.bind(TopologyServiceToken).toConstantValue(topology);
    container.bind(ListenerCounters).toConstantValue(this.ops.countersFor(topology));
    if (dial) container.bind(DialerToken).toConstantValue(dial);
    container.bind(Logger).toConstantValue(this.opts.log.child({ connection: resolved.config.name }));
    for (const m of modules) container.load(m.module);
    return container;
  }

  /**
   * Re-read every listener's certificate files (rotated in place, same paths): all are checked
   * first, then all are used; if one is bad, nothing changes and this throws. Wired to SIGHUP.
   */
  reloadTls(): string {
    const changes: TlsChange[] = [];
    for (const l of this.listeners.values()) {
      const c = l.resolved.config;
      if (l.tls.server && c.clientTls) changes.push(l.tls.server.prepare(c.clientTls));
      if (l.tls.dialer && c.serverTls) changes.push(l.tls.dialer.prepare(c.serverTls));
    }
    for (const change of changes) change.commit();
    return `${changes.length} TLS contexts reloaded`;
  }

  /** Stop every listener: no new clients, replies already due delivered within `graceMs`. */
  async stop(graceMs = this.config.shutdownGraceMs ?? 5000): Promise<void> {
    this.sync.stop();
    this.ops.stopping();
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.stop(graceMs)));
    await Promise.all(all.flatMap((l) => l.pipeline.middleware.map((m) => m.close?.())));
    await this.ops.stop();
  }
}
