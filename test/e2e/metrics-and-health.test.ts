import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '@slotrelay/core';
import { keyInSlots, mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type TestFleet, freePorts, startFleet } from '../support/fleet.js';
import { httpGet, parseMetrics, scrape } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import { type Forwarder, startForwarder } from '../support/forwarder.js';
import { RawClient } from '../support/raw-client.js';

// Issue 15: Prometheus metrics and health on the process's HTTP endpoint. The fleet's only seed is a
// forwarder to a node of the shared cluster that starts closed, so readiness can be seen before the
// topology is read; the topology is not changed.
describe('metrics and health endpoint of a fleet in front of a real cluster', () => {
  let fleet: TestFleet;
  let metricsPort: number;
  let seedPort: number;
  let forwarder: Forwarder | null = null;

  beforeAll(async () => {
    const ports = await freePorts(2);
    [metricsPort, seedPort] = [ports[0]!, ports[1]!];
    fleet = await startFleet({
      seeds: [`127.0.0.1:${seedPort}`],
      edit: (c) => {
        c.metrics = { address: '127.0.0.1', port: metricsPort };
        c.topologyCheckIntervalMs = 100;
        c.drainDelayMs = 0;
      },
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    await forwarder?.close();
  });

  it('/livez answers 200; /readyz 503 before the topology is read, saying why, and 200 once it is', async () => {
    expect((await httpGet(metricsPort, '/livez')).status).toBe(200);
    const before = await httpGet(metricsPort, '/readyz?verbose');
    expect(before.status).toBe(503);
    expect(before.body).toContain('[-]proxy-1 not ready: cluster topology not read yet');
    const scans = await scrape(metricsPort);
    expect(scans('slotrelay_topology_scans_total', { listener: 'proxy-1', result: 'error' })).toBeGreaterThan(0);
    expect(scans('slotrelay_ready', { listener: 'proxy-1' })).toBe(0);

    const target = sharedCluster().nodes[0]!;
    forwarder = await startForwarder(seedPort, target);
    // No client connects: the periodic check reads the topology and probes each proxy's node.
    const after = await pollUntil('/readyz to answer 200', async () => {
      const r = await httpGet(metricsPort, '/readyz?verbose');
      return r.status === 200 ? r : undefined;
    });
    expect(after.body.split('\n')).toEqual([...fleet.ports.map((_, i) => `[+]proxy-${i + 1} ok`), 'ready', '']);
    const m = await scrape(metricsPort);
    expect(m('slotrelay_ready', { listener: 'proxy-1' })).toBe(1);
    expect(m('slotrelay_topology_last_read_timestamp_seconds', { listener: 'proxy-1' })).toBeGreaterThan(0);
  });

  /** A listener whose node is a master, a key of that master (answered) and one of another (MOVED). */
  async function masterListener() {
    // The sessions of an earlier test are gone (a closed client's session ends a moment later).
    await pollUntil('earlier sessions to end', () =>
      [...fleet.fleet.listeners.values()].every((l) => l.sessions.size === 0),
    );
    const masters = await mastersWithSlots(sharedCluster().seeds[0]!);
    const listener = [...fleet.fleet.listeners.values()].find((l) =>
      masters.some((m) => m.id === l.topology.current?.self?.id),
    )!;
    const own = masters.find((m) => m.id === listener.topology.current!.self!.id)!;
    const other = masters.find((m) => m !== own)!;
    const client = await RawClient.connect(listener.resolved.config.localPort);
    const key = await keyInSlots(client, 'metrics:own', own.slots);
    const away = await keyInSlots(client, 'metrics:away', other.slots);
    return { name: listener.name, own, client, key, away };
  }

  // Needs the session cut's SessionStats increments (requests, replies, bytes): passes once merged.
  it('counts 1,000 SETs through one listener as 1,000 requests and replies, and a MOVED as one request', async () => {
    const { name, client, key, away } = await masterListener();
    try {
      const m0 = await scrape(metricsPort);
      const set = encodeCommand(['SET', key, 'v']);
      client.send(Buffer.concat(Array.from({ length: 1000 }, () => set)));
      for (let i = 0; i < 1000; i++) expect((await client.reply()).text).toBe('OK');
      const m1 = await scrape(metricsPort);
      const delta = (a: typeof m0, b: typeof m0, metric: string) =>
        b(metric, { listener: name }) - a(metric, { listener: name });
      expect(delta(m0, m1, 'slotrelay_requests_total')).toBe(1000);
      expect(delta(m0, m1, 'slotrelay_replies_total')).toBe(1000);
      expect(delta(m0, m1, 'slotrelay_client_bytes_received_total')).toBe(1000 * set.length);
      expect(delta(m0, m1, 'slotrelay_client_bytes_sent_total')).toBe(1000 * '+OK\r\n'.length);
      client.send(encodeCommand(['SET', away, 'v']));
      expect((await client.reply()).text).toMatch(/^MOVED /);
      expect(delta(m1, await scrape(metricsPort), 'slotrelay_requests_total')).toBe(1);
    } finally {
      client.close();
    }
  });

  it('counts one MOVED as one redirect rewritten; CLUSTER replies, admin commands, connections and upstreams too', async () => {
    const { name, own, client, away } = await masterListener();
    try {
      const m0 = await scrape(metricsPort);
      expect(m0('slotrelay_client_connections', { listener: name })).toBe(1);
      client.send(encodeCommand(['SET', away, 'v']));
      expect((await client.reply()).text).toMatch(/^MOVED \d+ 127\.0\.0\.1:\d+$/);
      const m1 = await scrape(metricsPort);
      const redirects = (m: typeof m0, kind: string) =>
        m('slotrelay_redirects_rewritten_total', { listener: name, kind });
      expect(redirects(m1, 'MOVED') - redirects(m0, 'MOVED')).toBe(1);
      expect(redirects(m1, 'ASK') - redirects(m0, 'ASK')).toBe(0);

      await client.call('CLUSTER', 'NODES');
      await client.call('GALLIUMDATA', 'STATUSCLUSTER');
      const m2 = await scrape(metricsPort);
      const delta = (metric: string, labels = {}) =>
        m2(metric, { listener: name, ...labels }) - m1(metric, { listener: name, ...labels });
      expect(delta('slotrelay_cluster_replies_rewritten_total')).toBe(1);
      expect(delta('slotrelay_admin_commands_total', { command: 'STATUSCLUSTER' })).toBe(1);
      const node = `${own.host}:${own.port}`;
      expect(m2('slotrelay_upstream_connections_total', { listener: name, node })).toBeGreaterThanOrEqual(1);
      expect(m2('slotrelay_upstream_up', { listener: name, node })).toBe(1);
      expect(m2('slotrelay_client_connections_accepted_total', { listener: name })).toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
    }
    await pollUntil('the session to be gone', async () => {
      const m = await scrape(metricsPort);
      return m('slotrelay_client_connections', { listener: name }) === 0;
    });
  });

  it('exposes every documented series with bounded labels, and prom-client process defaults', async () => {
    const samples = parseMetrics((await httpGet(metricsPort, '/metrics')).body);
    const names = new Set(samples.map((s) => s.name));
    for (const n of [
      'slotrelay_requests_total',
      'slotrelay_replies_total',
      'slotrelay_redirects_rewritten_total',
      'slotrelay_cluster_replies_rewritten_total',
      'slotrelay_client_connections',
      'slotrelay_client_connections_accepted_total',
      'slotrelay_client_connections_refused_total',
      'slotrelay_sessions_closed_total',
      'slotrelay_protocol_errors_total',
      'slotrelay_client_bytes_received_total',
      'slotrelay_client_bytes_sent_total',
      'slotrelay_upstream_bytes_received_total',
      'slotrelay_upstream_bytes_sent_total',
      'slotrelay_upstream_connections_total',
      'slotrelay_upstream_up',
      'slotrelay_topology_scans_total',
      'slotrelay_topology_last_read_timestamp_seconds',
      'slotrelay_mapping_changes_total',
      'slotrelay_ready',
      'slotrelay_request_latency_seconds_bucket',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ])
      expect(names, n).toContain(n);
    const allowed = new Set(['listener', 'kind', 'command', 'reason', 'result', 'node', 'le']);
    for (const s of samples.filter((x) => x.name.startsWith('slotrelay_')))
      for (const l of Object.keys(s.labels)) expect(allowed, `${s.name} label ${l}`).toContain(l);
  });

  it('/readyz answers 503 as soon as the drain starts, while the listeners still serve', async () => {
    const draining = fleet.fleet.ops.drain();
    const r = await httpGet(metricsPort, '/readyz?verbose');
    expect(r.status).toBe(503);
    expect(r.body).toContain('[-]shutdown not ready: draining');
    const c = await RawClient.connect(fleet.ports[0]!);
    try {
      expect(await c.call('PING')).toBe('PONG');
    } finally {
      c.close();
    }
    await draining;
  });
});
