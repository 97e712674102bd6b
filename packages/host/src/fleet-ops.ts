import {
  type ListenerCounters,
  type Logger,
  type SlotrelayConfig,
  type TopologyService,
  newListenerCounters,
} from '@slotrelay/core/internal';
import type { Listener } from './listener.js';
import { FleetMetrics } from './metrics.js';
import { type OpsServer, type ReadinessCheck, startOpsServer } from './ops-server.js';

/** Default `drainDelayMs`: how long a SIGTERMed process keeps serving once it reports not ready. */
export const DEFAULT_DRAIN_DELAY_MS = 5000;

/**
 * The operations side of a fleet: its metrics, the HTTP endpoint (`metrics` in the config) and
 * readiness, including the drain that starts at SIGTERM. The counters each listener's middleware
 * add to are kept here, by the listener's `TopologyService` (one per listener), so a pipeline
 * rebuilt for a config change binds the same object.
 */
export class FleetOps {
  /** Null when the config has no `metrics` (then nothing is counted beyond the plain integers). */
  readonly metrics: FleetMetrics | null;
  private server: OpsServer | null = null;
  /** Set at SIGTERM (or stop): readiness is false from then on. */
  private draining = false;
  private readonly counters = new WeakMap<TopologyService, ListenerCounters>();

  constructor(
    private readonly config: SlotrelayConfig,
    private readonly listeners: ReadonlyMap<string, Listener>,
    private readonly log: Logger,
  ) {
    this.metrics = config.metrics ? new FleetMetrics(() => listeners.values()) : null;
  }

  /** The counters of the listener that owns `topology`. */
  countersFor(topology: TopologyService): ListenerCounters {
    let c = this.counters.get(topology);
    if (c === undefined) {
      c = newListenerCounters();
      this.counters.set(topology, c);
    }
    return c;
  }

  /** A new listener: its sampled sessions feed the latency histogram. */
  added(l: Listener): void {
    this.metrics?.attach(l);
  }

  /** Bind the HTTP endpoint when the config asks for one. */
  async start(): Promise<void> {
    const m = this.config.metrics;
    if (!m || !this.metrics) return;
    this.server = await startOpsServer({
      address: m.address ?? '127.0.0.1',
      port: m.port,
      metrics: this.metrics,
      readiness: () => this.readiness(),
      log: this.log,
    });
  }

  /** The port `/metrics`, `/livez` and `/readyz` are served on, or undefined when off. */
  get port(): number | undefined {
    return this.server?.port;
  }

  /** Every check behind `/readyz`: one per listener, and the drain once it started. */
  readiness(): ReadinessCheck[] {
    const checks: ReadinessCheck[] = [];
    if (this.draining)
      checks.push({ name: 'shutdown', ready: false, reason: 'draining: the process is shutting down' });
    for (const l of this.listeners.values()) {
      const reason = l.topology.notReadyReason;
      checks.push(reason === undefined ? { name: l.name, ready: true } : { name: l.name, ready: false, reason });
    }
    return checks;
  }

  /**
   * SIGTERM: report not ready at once, keep serving for `drainDelayMs` (default 5000) so load
   * balancers and Kubernetes endpoints stop sending new clients, then resolve (the caller stops).
   */
  async drain(): Promise<void> {
    this.draining = true;
    const ms = this.config.drainDelayMs ?? DEFAULT_DRAIN_DELAY_MS;
    this.log.info({ drainDelayMs: ms }, 'draining: not ready; still serving until the drain delay ends');
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  /** Not ready from now on (the fleet is stopping). */
  stopping(): void {
    this.draining = true;
  }

  async stop(): Promise<void> {
    this.draining = true;
    const s = this.server;
    this.server = null;
    await s?.close();
  }
}
