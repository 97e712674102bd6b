import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLOSE_REASONS, LATENCY_SAMPLE_EVERY, wireAddress } from '@slotrelay/core/internal';
import type { Listener } from './listener.js';

/** Add `value` under `labels` (the metric's own labels besides `listener`). */
type Emit = (labels: Record<string, string>, value: number) => void;

/** Buckets of the latency histogram, seconds: 50 µs (a pipelined GET on loopback) to 2.5 s. */
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/**
 * The process's Prometheus metrics (prom-client), one registry per fleet. Every `slotrelay_` series
 * is read at scrape time from plain integers the listeners, sessions and middleware add to
 * (`Listener.counts`, `SessionStats`, `ListenerCounters`, `TopologyService`): nothing on the data
 * path calls prom-client, except the latency histogram of the sampled sessions (1 in
 * `LATENCY_SAMPLE_EVERY`). Labels are bounded: listener, Redis node address, reason, kind.
 */
export class FleetMetrics {
  readonly registry = new Registry();
  private readonly latency: Histogram<'listener'>;

  constructor(private readonly listeners: () => Iterable<Listener>) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.latency = new Histogram({
      name: 'slotrelay_request_latency_seconds',
      help: `Seconds from the read of a request chunk to the write of the reply chunk that completes it, 1 session in ${LATENCY_SAMPLE_EVERY} sampled`,
      labelNames: ['listener'],
      buckets: LATENCY_BUCKETS,
      registers: [r],
    });
    const counter = (name: string, help: string, labels: string[], read: (l: Listener, emit: Emit) => void) =>
      this.series('counter', name, help, labels, read);
    const gauge = (name: string, help: string, labels: string[], read: (l: Listener, emit: Emit) => void) =>
      this.series('gauge', name, help, labels, read);
    const none = {};

    counter('slotrelay_requests_total', 'Client requests, forwarded to Redis or answered by the proxy', [], (l, e) =>
      e(none, l.stats.requests),
    );
    counter('slotrelay_replies_total', 'Reply frames written to clients (pushes included)', [], (l, e) =>
      e(none, l.stats.replies),
    );
    counter('slotrelay_redirects_rewritten_total', 'MOVED/ASK replies rewritten to name a proxy', ['kind'], (l, e) => {
      e({ kind: 'MOVED' }, l.counters.redirectsRewritten.moved);
      e({ kind: 'ASK' }, l.counters.redirectsRewritten.ask);
    });
    counter(
      'slotrelay_cluster_replies_rewritten_total',
      'Replies naming Redis nodes (CLUSTER NODES/SLOTS/SHARDS, INFO, ROLE …) rewritten or refused',
      [],
      (l, e) => e(none, l.counters.clusterRepliesRewritten),
    );
    counter('slotrelay_admin_commands_total', 'GALLIUMDATA/SLOTRELAY admin commands', ['command'], (l, e) => {
      for (const [command, n] of l.counters.adminCommands) e({ command }, n);
    });
    gauge('slotrelay_client_connections', 'Client connections open (sessions)', [], (l, e) => e(none, l.sessions.size));
    counter('slotrelay_client_connections_accepted_total', 'Client connections accepted', [], (l, e) =>
      e(none, l.counts.accepted),
    );
    counter('slotrelay_client_connections_refused_total', 'Client connections closed at once', [], (l, e) =>
      e(none, l.counts.refused),
    );
    counter('slotrelay_sessions_closed_total', 'Sessions closed, by reason', ['reason'], (l, e) => {
      for (const reason of CLOSE_REASONS) e({ reason }, l.stats.closed.get(reason) ?? 0);
    });
    counter('slotrelay_sessions_shared_total', 'Sessions that started on shared upstream connections', [], (l, e) =>
      e(none, l.stats.sharedSessions),
    );
    counter(
      'slotrelay_sessions_pinned_total',
      'Shared sessions that moved to a Redis connection of their own (MULTI, blocking, pub/sub …)',
      [],
      (l, e) => e(none, l.stats.pinnedSessions),
    );
    gauge('slotrelay_upstream_shared_connections', 'Shared connections to Redis open now', [], (l, e) =>
      e(none, l.sharedConnections),
    );
    counter('slotrelay_protocol_errors_total', 'Client protocol errors (each closes its connection)', [], (l, e) =>
      e(none, l.stats.protocolErrors),
    );
    counter('slotrelay_client_bytes_received_total', 'Bytes read from clients', [], (l, e) =>
      e(none, l.stats.bytesFromClients),
    );
    counter('slotrelay_client_bytes_sent_total', 'Bytes written to clients', [], (l, e) =>
      e(none, l.stats.bytesToClients),
    );
    counter('slotrelay_upstream_bytes_received_total', 'Bytes read from Redis', [], (l, e) =>
      e(none, l.stats.bytesFromRedis),
    );
    counter('slotrelay_upstream_bytes_sent_total', 'Bytes written to Redis', [], (l, e) =>
      e(none, l.stats.bytesToRedis),
    );
    counter('slotrelay_upstream_connections_total', "Sessions' connections to Redis opened", ['node'], (l, e) => {
      for (const [node, n] of l.counts.upstreamConnects) e({ node }, n);
    });
    counter(
      'slotrelay_upstream_connect_failures_total',
      "Sessions' failed dials of Redis, by node and reason (ECONNREFUSED, timeout …)",
      ['node', 'reason'],
      (l, e) => {
        for (const [key, n] of l.counts.upstreamFailures) {
          const sp = key.lastIndexOf(' ');
          e({ node: key.slice(0, sp), reason: key.slice(sp + 1) }, n);
        }
      },
    );
    gauge(
      'slotrelay_upstream_up',
      "1 when this proxy's Redis node answered its last dial or probe, else 0",
      ['node'],
      (l, e) => {
        const h = l.topology.health;
        if (h.target !== null && h.state !== 'unknown')
          e({ node: wireAddress(h.target) }, h.state === 'reachable' ? 1 : 0);
      },
    );
    counter('slotrelay_topology_scans_total', 'Topology scans (CLUSTER NODES), by result', ['result'], (l, e) => {
      e({ result: 'ok' }, l.topology.scanResults.ok);
      e({ result: 'error' }, l.topology.scanResults.error);
    });
    gauge(
      'slotrelay_topology_last_read_timestamp_seconds',
      'When the cluster topology was last read successfully (Unix time)',
      [],
      (l, e) => {
        const t = l.topology.lastRead;
        if (t !== null) e(none, t.at / 1000);
      },
    );
    counter('slotrelay_mapping_changes_total', 'New cluster topologies or mappings after the first', [], (l, e) =>
      e(none, l.topology.mappingChanges),
    );
    gauge('slotrelay_ready', '1 when the listener is ready (topology read, its Redis node reachable)', [], (l, e) =>
      e(none, l.ready ? 1 : 0),
    );
  }

  /** Sample `l`'s sessions' latency into the histogram (one child per listener: no label lookup per sample). */
  attach(l: Listener): void {
    this.latency.zero({ listener: l.name }); // the buckets show from the start, at 0
    const child = this.latency.labels(l.name);
    l.stats.observeLatency = (seconds) => child.observe(seconds);
  }

  /** The exposition text, and its content type. */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /** A counter or gauge whose values are read from every listener at scrape time. */
  private series(
    kind: 'counter' | 'gauge',
    name: string,
    help: string,
    labels: string[],
    read: (l: Listener, emit: Emit) => void,
  ): void {
    const listeners = this.listeners;
    const common = { name, help, labelNames: ['listener', ...labels], registers: [this.registry] };
    if (kind === 'counter')
      new Counter({
        ...common,
        collect() {
          // A counter has no `set`: cleared, then one increment of the whole value.
          this.reset();
          for (const l of listeners()) read(l, (lb, v) => this.inc({ listener: l.name, ...lb }, v));
        },
      });
    else
      new Gauge({
        ...common,
        collect() {
          this.reset();
          for (const l of listeners()) read(l, (lb, v) => this.set({ listener: l.name, ...lb }, v));
        },
      });
  }
}
