import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { type LocalCluster, redisServerPath, startCluster } from '@slotrelay/local-cluster';
import { statusRows } from '../support/admin.js';
import { keySlot } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil, tryConnect } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';

// Issue 13: during an outage the dead master's proxy answered every new connection
// `-ERR slotrelay: cannot connect to Redis: ECONNREFUSED`, which ioredis takes for the command's
// answer and does not retry (failover cost clients ~10× more errors through the fleet than
// directly). Directly, a dead node is a closed connection, which ioredis retries: so is the proxy.
// A cluster of two masters of this file's own: one is killed, then started again.
describe('a proxy whose Redis node is down', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let client: Cluster;
  let restarted: ChildProcess | null = null;
  let victim: LocalCluster['nodes'][number];
  let victimProxy: number;
  let victimKey: string;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 2, replicasPerMaster: 0 });
    fleet = await startFleet({ seeds: cluster.seeds, mappings: 'static', nodes: cluster.nodes });
    victim = cluster.nodes[1]!;
    victimProxy = fleet.ports[1]!;
    const slots = await victimSlots();
    for (let i = 0; ; i++) {
      const k = `dead:${i}`;
      if (slots.some(([lo, hi]) => keySlot(k) >= lo && keySlot(k) <= hi)) {
        victimKey = k;
        break;
      }
    }
    // Generous retries: the node comes back only once the test saw ioredis retrying.
    client = new Cluster([{ host: '127.0.0.1', port: fleet.ports[0]! }], {
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      maxRedirections: 300,
    });
    client.on('error', () => {});
  });
  afterAll(async () => {
    client?.disconnect();
    await fleet?.stop();
    if (restarted?.exitCode === null) {
      restarted.kill('SIGKILL');
      await new Promise((r) => restarted!.once('exit', r));
    }
    await cluster?.stop();
  });

  async function victimSlots(): Promise<Array<[number, number]>> {
    const out = await cluster.cli(victim, 'CLUSTER', 'NODES');
    const line = out.split('\n').find((l) => l.includes('myself'))!;
    return line
      .split(' ')
      .slice(8)
      .filter((r) => /^\d/.test(r))
      .map((r) => {
        const [lo, hi] = r.split('-').map(Number);
        return [lo!, hi ?? lo!];
      });
  }

  it('writes through the fleet while every node is up', async () => {
    expect(await client.set(victimKey, 'before')).toBe('OK');
  });

  it('closes a new connection at its first request, without a reply; admin commands are still answered', async () => {
    process.kill(victim.pid, 'SIGKILL');
    await pollUntil(
      `redis-server ${victim.port} to be gone`,
      async () => (await tryConnect(victim.port)) === 'ECONNREFUSED',
      10_000,
      50,
    );

    const admin = await RawClient.connect(victimProxy);
    const self = statusRows(String(await admin.call('GALLIUMDATA', 'STATUSCLUSTER'))).filter((r) => r.self);
    expect(self).toEqual([{ redisPort: victim.port, proxyPort: victimProxy, id: victim.id, self: true }]);
    // The same connection's first request for Redis: closed, no -ERR a client would take for the answer.
    const got: Buffer[] = [];
    admin.socket.on('data', (c) => got.push(c));
    admin.send('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
    await admin.closedPromise;
    expect(Buffer.concat(got).toString('latin1')).toBe('');

    const raw = await new Promise<string>((resolve) => {
      const s = net.connect({ port: victimProxy, host: '127.0.0.1' }, () => s.write('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'));
      const bytes: Buffer[] = [];
      s.on('data', (c) => bytes.push(c));
      s.on('error', () => {});
      s.once('close', () => resolve(Buffer.concat(bytes).toString('latin1')));
    });
    expect(raw).toBe('');
  });

  it('ioredis Cluster retries a write to the dead node until the node is back, instead of failing on an -ERR', async () => {
    const listener = [...fleet.fleet.listeners.values()][1]!;
    const acceptedBefore = listener.acceptedCount;
    const write = client.set(victimKey, 'during');
    // ioredis reconnected and retried (each attempt a new connection the proxy closed).
    await pollUntil(
      'ioredis to retry through the dead node',
      () => listener.acceptedCount - acceptedBefore >= 3,
      20_000,
      20,
    );
    restarted = spawn(redisServerPath(), [join(victim.dir, 'redis.conf')], { cwd: victim.dir, stdio: 'ignore' });
    expect(await write).toBe('OK');
    expect(await client.get(victimKey)).toBe('during');
  });
});
