import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { portsIn, redisCli, splitRedirects } from '../support/redis-cli.js';

const KEYS = 10_000;

// The heart of the product: clients given one proxy address work against the whole cluster and
// never learn a Redis address — with dynamic and with static mappings.
for (const mappings of ['dynamic', 'static'] as const) {
  describe(`${mappings} fleet: real cluster clients given one proxy address`, () => {
    let fleet: TestFleet;
    let redisPorts: number[];

    beforeAll(async () => {
      const cluster = sharedCluster();
      redisPorts = cluster.nodes.map((n) => n.port);
      fleet = await startFleet({ seeds: cluster.seeds.slice(0, 2), mappings, nodes: cluster.nodes });
    });
    afterAll(() => fleet?.stop());

    const onlyProxyPorts = (ports: number[]) => {
      expect(ports.length).toBeGreaterThan(0);
      for (const p of ports) expect(fleet.ports, `port ${p}`).toContain(p);
      for (const p of ports) expect(redisPorts).not.toContain(p);
    };

    it('redis-cli -c writes and reads back 10,000 keys over all slots', async () => {
      const prefix = `cli-${mappings}`;
      const sets = Array.from({ length: KEYS }, (_, i) => `SET ${prefix}:${i} v${i}`).join('\n');
      const setOut = splitRedirects(await redisCli(['-c', '-p', String(fleet.ports[0])], sets));
      expect(setOut.replies).toEqual(Array.from({ length: KEYS }, () => 'OK'));
      const gets = Array.from({ length: KEYS }, (_, i) => `GET ${prefix}:${i}`).join('\n');
      const getOut = splitRedirects(await redisCli(['-c', '-p', String(fleet.ports[3])], gets));
      expect(getOut.replies).toEqual(Array.from({ length: KEYS }, (_, i) => `v${i}`));
      // Keys over all slots means redirects to every master's proxy, and only to proxies.
      onlyProxyPorts([...setOut.redirectPorts, ...getOut.redirectPorts]);
      expect(new Set(getOut.redirectPorts).size).toBeGreaterThanOrEqual(2);
      const nodes = (await redisCli(['-p', String(fleet.ports[1]), 'CLUSTER', 'NODES'])).join('\n');
      expect(nodes.split('\n')).toHaveLength(6);
      onlyProxyPorts(portsIn(nodes.replace(/@\d+/g, '')));
    });

    it('ioredis Cluster (RESP3) writes and reads back 10,000 keys, and knows only proxies', async () => {
      const c = new Cluster([{ host: '127.0.0.1', port: fleet.ports[2]! }], { redisOptions: { protocol: 3 } });
      try {
        const prefix = `ioredis-${mappings}`;
        for (let i = 0; i < KEYS; i += 1000) {
          await Promise.all(Array.from({ length: 1000 }, (_, j) => c.set(`${prefix}:${i + j}`, `v${i + j}`)));
        }
        for (let i = 0; i < KEYS; i += 1000) {
          const got = await Promise.all(Array.from({ length: 1000 }, (_, j) => c.get(`${prefix}:${i + j}`)));
          expect(got).toEqual(Array.from({ length: 1000 }, (_, j) => `v${i + j}`));
        }
        onlyProxyPorts(c.nodes('all').map((n) => n.options.port!));
        expect(c.nodes('master')).toHaveLength(3);
      } finally {
        c.disconnect();
      }
    });

    it('node-redis createCluster (RESP3) writes and reads back 10,000 keys, and knows only proxies', async () => {
      const c = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port: fleet.ports[4]! } }], RESP: 3 });
      c.on('error', () => {});
      await c.connect();
      try {
        const prefix = `noderedis-${mappings}`;
        for (let i = 0; i < KEYS; i += 1000) {
          await Promise.all(Array.from({ length: 1000 }, (_, j) => c.set(`${prefix}:${i + j}`, `v${i + j}`)));
        }
        for (let i = 0; i < KEYS; i += 1000) {
          const got = await Promise.all(Array.from({ length: 1000 }, (_, j) => c.get(`${prefix}:${i + j}`)));
          expect(got).toEqual(Array.from({ length: 1000 }, (_, j) => `v${i + j}`));
        }
        onlyProxyPorts([...c.masters, ...c.replicas].map((n) => n.port));
        expect(c.masters).toHaveLength(3);
      } finally {
        await c.close();
      }
    });
  });
}

describe('a fleet with fewer members than Redis nodes', () => {
  it('answers every client with the exact Gallium error and logs how many are needed', async () => {
    const cluster = sharedCluster();
    const lines: string[] = [];
    const log = {
      debug() {},
      info() {},
      warn: (o: object, m?: string) => lines.push(`${m} ${JSON.stringify(o)}`),
      error: (o: object, m?: string) => lines.push(`${m} ${JSON.stringify(o)}`),
      child() {
        return log;
      },
    };
    const fleet = await startFleet({ seeds: cluster.seeds, count: 5, log });
    try {
      for (const port of fleet.ports.slice(0, 2)) {
        const out = await redisCli(['-p', String(port), 'GET', 'x']);
        expect(out).toEqual(['ERR There are not enough slotrelay nodes to cover the entire cluster']);
      }
      expect(lines.join('\n')).toMatch(/the cluster has 6 nodes, clusterMembers lists 5; at least 6 are needed/);
    } finally {
      await fleet.stop();
    }
  });
});
