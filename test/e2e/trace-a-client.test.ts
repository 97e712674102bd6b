import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { type LogEntry, captureLogger } from '../support/log.js';
import { pollUntil } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';

// Issue 15: Redis sees only the proxy's address in CLIENT LIST. Every log line about a session names
// its client and the local port of its connection to Redis, which is the port of that connection's
// `addr=` in the node's CLIENT LIST: the README's recipe, followed here against a real node.
describe('tracing a client from a Redis CLIENT LIST entry to its address through the log', () => {
  let fleet: TestFleet;
  const log = captureLogger();

  beforeAll(async () => {
    // Each session's own upstream connection is what CLIENT LIST shows: sharing off (with it on, a
    // session that has not pinned is one of many on a pool connection; README "Tracing a client").
    fleet = await startFleet({
      seeds: sharedCluster().seeds,
      log,
      edit: (c) => c.connections.forEach((x) => (x.multiplex = false)),
    });
    await pollUntil('every listener ready', () => fleet.fleet.ops.readiness().every((c) => c.ready));
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('the session opened/closed lines carry session, client and upstreamPort; upstreamPort finds the entry in CLIENT LIST', async () => {
    const listener = [...fleet.fleet.listeners.values()][0]!;
    const node = listener.topology.current!.upstream;
    const client = await RawClient.connect(listener.resolved.config.localPort);
    const clientAddress = `127.0.0.1:${client.socket.localPort}`;
    const name = `trace-${process.pid}`;
    let opened: LogEntry;
    try {
      expect(await client.call('CLIENT', 'SETNAME', name)).toBe('OK');
      opened = log.entries.find((e) => e.msg === 'session opened' && e.obj.client === clientAddress)!;
      expect(opened.level).toBe('debug');
      expect(opened.obj).toMatchObject({ connection: listener.name, redis: `${node.host}:${node.port}` });
      expect(typeof opened.obj.session).toBe('number');
      const direct = await RawClient.connect(node.port, node.host);
      try {
        const entry = String(await direct.call('CLIENT', 'LIST'))
          .split('\n')
          .find((l) => l.includes(` name=${name} `))!;
        expect(/ addr=[^ ]+:(\d+) /.exec(entry)![1]).toBe(String(opened.obj.upstreamPort));
      } finally {
        direct.close();
      }
    } finally {
      client.close();
    }
    const closed = await pollUntil('the session closed line', () =>
      log.entries.find((e) => e.msg === 'session closed' && e.obj.session === opened.obj.session),
    );
    expect(closed.obj).toMatchObject({ client: clientAddress, upstreamPort: opened.obj.upstreamPort });
  });
});
