import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { type ClusterNode, type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { encodeCommand } from '@slotrelay/core';
import { redisNodes, statusRows } from '../support/admin.js';
import { keySlot } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil, tryConnect } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { portsIn } from '../support/redis-cli.js';

const KEYS = 1_000;
const keys = Array.from({ length: KEYS }, (_, i) => `failover:${i}`);
const values = keys.map((_, i) => `v${i}`);

/** `p`, or a rejection naming `what` after `ms` (so one poll attempt can never hang the poll). */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// A master dies (SIGKILL, no goodbye): the proxy in front of it must close its clients at once
// (as the dead node would) instead of hanging, stay up, and once Redis has promoted the replica, clients of the fleet must find every
// key again — still learning only proxy addresses. It kills a node, so it has its own cluster.
describe('failover of a killed master behind a dynamic fleet', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let client: Cluster;
  let redisPorts: number[];
  let victim: ClusterNode;
  let victimReplicaId: string;
  let victimSlots: Array<[number, number]>;
  /** The proxy that fronts the killed node (dynamic mapping: instance k fronts the k-th node by ID). */
  let victimProxy: number;
  let liveProxies: number[];

  beforeAll(async () => {
    cluster = await startCluster();
    redisPorts = cluster.nodes.map((n) => n.port);
    fleet = await startFleet({ seeds: cluster.seeds });
    const byId = cluster.nodes.map((n) => n.id).sort();
    victim = cluster.masters()[0]!;
    victimProxy = fleet.ports[byId.indexOf(victim.id)]!;
    liveProxies = fleet.ports.filter((p) => p !== victimProxy);
    const other = cluster.nodes.find((n) => n !== victim)!;
    const view = await redisNodes(other.port);
    victimSlots = view.find((n) => n.id === victim.id)!.slots;
    const raw = await RawClient.connect(other.port);
    try {
      const lines = String(await raw.call('CLUSTER', 'REPLICAS', victim.id))
        .trim()
        .split('\n');
      expect(lines).toHaveLength(1);
      victimReplicaId = lines[0]!.split(' ')[0]!;
      expect(view.find((n) => n.id === victimReplicaId)?.role).toBe('replica');
    } finally {
      raw.close();
    }
    client = new Cluster([{ host: '127.0.0.1', port: fleet.ports[0]! }]);
    // Requests fail while the master is down; the failures are what the tests look at, not events.
    client.on('error', () => {});
  });
  afterAll(async () => {
    client?.disconnect();
    await fleet?.stop();
    // stop() skips the node that already exited and stops the other five.
    await cluster?.stop();
  });

  it('writes 1,000 keys over all masters through one proxy address', async () => {
    expect(await Promise.all(keys.map((k, i) => client.set(k, values[i]!)))).toEqual(keys.map(() => 'OK'));
    expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(values);
    expect(client.nodes('master')).toHaveLength(3);
    // A third of them live on the master that is killed next, so the failover really has to serve them.
    const onVictim = keys.filter((k) => victimSlots.some(([lo, hi]) => keySlot(k) >= lo && keySlot(k) <= hi)).length;
    expect(onVictim).toBeGreaterThan(200);
  });

  it('after a SIGKILL of a master its proxy closes a new client at once without a reply (as the dead node would), and keeps listening', async () => {
    process.kill(victim.pid, 'SIGKILL');
    await pollUntil(
      `redis-server ${victim.port} to be gone`,
      async () => (await tryConnect(victim.port)) === 'ECONNREFUSED',
      10_000,
      50,
    );

    const started = Date.now();
    const raw = await RawClient.connect(victimProxy);
    try {
      const got: Buffer[] = [];
      raw.socket.on('data', (c) => got.push(c));
      raw.send(encodeCommand(['GET', keys[0]!]));
      // A closed connection, which cluster clients retry; an -ERR would be taken for GET's answer.
      await within(5_000, 'the proxy closing the failed session', raw.closedPromise); // a hang fails here
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(Buffer.concat(got).toString('latin1')).toBe('');
    } finally {
      raw.close();
    }

    // The listener is still up: a new connection is answered, locally, by the admin middleware.
    const admin = await RawClient.connect(victimProxy);
    try {
      const status = String(await admin.call('GALLIUMDATA', 'STATUSCLUSTER'));
      const self = statusRows(status).filter((r) => r.self);
      expect(self).toEqual([{ redisPort: victim.port, proxyPort: victimProxy, id: victim.id, self: true }]);
    } finally {
      admin.close();
    }
  });

  it('once the replica is promoted, ioredis reads back every key through the fleet and knows three masters, all proxies', async () => {
    // Redis marks the master failed after cluster-node-timeout (2 s) and the replica takes over;
    // ioredis finds the new master's proxy on its next slots refresh.
    await pollUntil(
      'every key readable through the fleet after the failover',
      async () => {
        const got = await within(5_000, 'reading 1,000 keys', Promise.all(keys.map((k) => client.get(k))));
        const wrong = got.filter((v, i) => v !== values[i]).length;
        if (wrong > 0) throw new Error(`${wrong} wrong values`); // recorded by pollUntil as the last failure
        return true;
      },
      30_000,
      250,
    );
    const masters = await pollUntil(
      'ioredis to know 3 masters without the dead one',
      () => {
        const ports = client.nodes('master').map((n) => n.options.port!);
        return ports.length === 3 && !ports.includes(victimProxy) && ports;
      },
      10_000,
      100,
    );
    for (const p of masters) {
      expect(liveProxies).toContain(p);
      expect(redisPorts).not.toContain(p);
    }
    for (const n of client.nodes('all')) expect(fleet.ports).toContain(n.options.port);
    // The former replica now owns slots, by Redis's own account.
    const view = await redisNodes(cluster.nodes.find((n) => n.id === victimReplicaId)!.port);
    const promoted = view.find((n) => n.id === victimReplicaId)!;
    expect(promoted.role).toBe('master');
    expect(promoted.slots.length).toBeGreaterThan(0);
  });

  it('CLUSTER NODES through every live proxy names only proxies and flags the dead node fail', async () => {
    const fields = (text: string, id: string) =>
      text
        .split('\n')
        .find((l) => l.startsWith(`${id} `))
        ?.split(' ');
    for (const port of liveProxies) {
      const raw = await RawClient.connect(port);
      try {
        // Each proxy asks its own Redis node, and each node learns of the failure from gossip: wait
        // (bounded) until this node's view shows it, then check the whole view.
        const text = await pollUntil(
          `the CLUSTER NODES of proxy ${port} to show the failover`,
          async () => {
            const t = String(await raw.call('CLUSTER', 'NODES'));
            const dead = fields(t, victim.id);
            const promoted = fields(t, victimReplicaId);
            // Redis retries its bus link to the dead node every cron tick, so the link reads
            // 'connected' while a connect is in progress: wait for a moment it reads 'disconnected'.
            return (
              dead?.[2]!.split(',').includes('fail') &&
              dead[7] === 'disconnected' &&
              promoted?.[2]!.split(',').includes('master') &&
              t
            );
          },
          10_000,
          100,
        );
        expect(text.trim().split('\n')).toHaveLength(6);
        const ports = portsIn(text.replace(/@\d+/g, ''));
        expect(new Set(ports).size).toBe(6); // six nodes, six different proxies
        for (const p of ports) {
          expect(fleet.ports, `port ${p} via proxy ${port}`).toContain(p);
          expect(redisPorts).not.toContain(p);
        }
        // The dead node is still named by its own proxy, failed, unlinked and without slots.
        const [, addr, flags, , , , , linkState, ...slots] = fields(text, victim.id)!;
        expect(addr).toMatch(new RegExp(`^127\\.0\\.0\\.1:${victimProxy}@\\d+$`));
        expect(flags!.split(',')).toEqual(['master', 'fail']);
        expect(linkState).toBe('disconnected');
        expect(slots).toEqual([]);
        expect(fields(text, victimReplicaId)!.slice(8).length).toBeGreaterThan(0);
      } finally {
        raw.close();
      }
    }
  });
});
