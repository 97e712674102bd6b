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
  tcpServer,
} from '@slotrelay/core/internal';
import type { TlsChange } from '@slotrelay/transport-tls';
import {
  ConfigError,
  DEFAULT_MIDDLEWARE,
  type ResolvedConnection,
  redisAuthOf,
  requireTls,
  resolveConnection,
  validateConfig,
} from './config.js';
import { Listener } from './listener.js';
import { type LoadedMiddleware, loadMiddleware } from './middleware-loader.js';
import { type PatchSource, envRefInPatch, networkPatchRefusal } from './patch-policy.js';
import { describePatchError, maskSecrets, settingChanges } from './config-change.js';
import { planApply } from './apply-plan.js';
import { TopologySync } from './topology-sync.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, limitedDialer } from './limits.js';
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
  /** What pins the log level (`--log-level`): a config change of `log.level` is then refused, naming it. */
  readonly logLevelPinnedBy?: string;
}

/** A `log.level` value. */
export type LogLevelName = NonNullable<NonNullable<SlotrelayConfig['log']>['level']>;

/** Default periodic topology check: Gallium Data users had to run SCANCLUSTER by hand. */
const DEFAULT_CHECK_MS = 5000;

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
    // One line however many problems: the reply is a RESP simple error, which a newline would end.
    const run = this.changes
      .then(() => this.applyPatch(ops, source))
      .catch((e: unknown) => {
        throw e instanceof ConfigError && e.lines.length > 1 ? new ConfigError(e.lines.join('; ')) : e;
      });
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
    const refusal = source === 'network' ? (envRefInPatch(ops) ?? networkPatchRefusal(this.config, next)) : undefined;
    if (refusal !== undefined) throw new ConfigError(refusal);
    const validated = validateConfig(next, this.opts.env ?? process.env);
    return this.apply(validated);
  }

  /**
   * Move the running process to `next` (already validated). Everything that can be checked is
   * checked first (certificates read, middleware resolved and imported); then the config is
   * committed and new middleware and listeners are built from it — if one cannot be (a middleware
   * refusing its settings, a port taken), every new listener is closed again, the old config is put
   * back and nothing changes.
   */
  private async apply(next: SlotrelayConfig): Promise<string> {
    const prev = structuredClone(this.config);
    if (prev.log?.level !== next.log?.level && this.opts.logLevelPinnedBy)
      throw new ConfigError(
        `config change not applied: log.level is set by ${this.opts.logLevelPinnedBy}, which wins over the config; restart without it to set the level from the config`,
      );
    const plan = planApply(prev, next, this.listeners);
    const { toStart, toStop } = plan;
    const rebuild = plan.middlewareChanged || plan.middlewareConfigChanged;
    // Importing runs code, so it comes last among the checks.
    const modules = plan.middlewareChanged
      ? await loadMiddleware(next.middleware ?? DEFAULT_MIDDLEWARE, path.resolve(this.opts.configDir ?? process.cwd()))
      : this.modules;

    // Commit in place (middleware hold this object); new middleware read their settings from it.
    const commit = (c: SlotrelayConfig) => {
      for (const k of Object.keys(this.config)) delete (this.config as unknown as Record<string, unknown>)[k];
      Object.assign(this.config, structuredClone(c));
    };
    commit(next);
    // Rebinding the same address: the old listener must let go of the port first.
    const sameAddress = (a: ResolvedConnection, l: Listener) =>
      a.config.localPort === l.resolved.config.localPort && a.config.localAddress === l.resolved.config.localAddress;
    const started: Listener[] = [];
    const stoppedEarly: Listener[] = [];
    const pipelines = new Map<Listener, Pipeline>();
    try {
      if (rebuild)
        for (const l of this.listeners.values())
          if (!toStop.includes(l))
            pipelines.set(
              l,
              new Pipeline(
                this.containerFor(l.resolved, modules, l.topology, undefined).getAll<Middleware>(Middleware),
              ),
            );
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
      commit(prev);
      for (const l of stoppedEarly) await this.startListener(l.resolved, this.modules).catch(() => {});
      throw e instanceof ConfigError ? e : new ConfigError(`config change not applied: ${(e as Error).message}`);
    }

    const summary: string[] = [];
    for (const l of toStop) {
      if (!stoppedEarly.includes(l)) {
        await l.stop(next.shutdownGraceMs ?? 5000);
        if (this.listeners.get(l.name) === l) this.listeners.delete(l.name);
      }
      summary.push(`stopped ${l.name}`);
    }
    for (const l of started) {
      this.listeners.set(l.name, l);
      summary.push(`started ${l.name} on ${l.resolved.config.localAddress}:${l.resolved.config.localPort}`);
    }
    if (rebuild) {
      this.modules = modules;
      for (const [l, p] of pipelines) l.setPipeline(p);
      summary.push(`${plan.middlewareChanged ? 'middleware reloaded' : 'middlewareConfig applied'} for new sessions`);
    }
    // Process-wide settings: named in the summary, and applied where something holds a copy.
    summary.push(...settingChanges(prev, next), ...plan.notes);
    if (prev.log?.level !== next.log?.level) this.opts.setLogLevel?.(next.log?.level);
    // Listeners started above read the interval when built: set it on every listener.
    const interval = next.topologyCheckIntervalMs ?? DEFAULT_CHECK_MS;
    if ((prev.topologyCheckIntervalMs ?? DEFAULT_CHECK_MS) !== interval)
      for (const l of this.listeners.values()) l.setTopologyCheckInterval(interval);
    for (const [l, change] of plan.tlsChanges) {
      change.commit();
      summary.push(`reloaded TLS of ${l.name}`);
    }
    for (const [l, r] of plan.toUpdate) l.setResolved(r);
    // Credentials: discovery uses them from now on, and is tried at once so a wrong password shows here.
    for (const [l, r] of plan.toReauth) l.topology.reconfigure({ auth: redisAuthOf(r.config) });
    for (const [l, r] of plan.toReauth) {
      l.setResolved(r);
      await l.topology.rescan('credentials changed').then(
        () => summary.push(`new credentials of ${l.name} accepted by Redis`),
        (e: unknown) =>
          summary.push(
            `new credentials of ${l.name} applied, but Redis refused them (discovery fails until Redis accepts them): ${(e as Error).message}`,
          ),
      );
    }
    for (const [l, r] of plan.toRemap) {
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
    // Limits are read at each dial from the listener's config of now (a change applies to the next dial).
    const made: { listener?: Listener } = {};
    const current = () => made.listener?.resolved.config ?? c;
    const tlsDialer = c.serverTls?.enabled
      ? requireTls('serverTls').createTlsDialer(c.serverTls, log, {
          connectTimeoutMs: () => current().connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        })
      : undefined;
    const dial: Dialer = limitedDialer(current, tlsDialer?.dial);
    const createServer: ServerFactory = tlsServer?.factory ?? tcpServer();
    const topology = new TopologyService({
      spec: resolved.spec,
      seeds: resolved.seeds,
      dial,
      log,
      ...(redisAuthOf(c) ? { auth: redisAuthOf(c)! } : {}),
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
    made.listener = listener;
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
