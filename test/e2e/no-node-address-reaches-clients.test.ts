import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RespType, decodeReply, encodeCommand } from '@slotrelay/core';
import { ADDRESS_DECISIONS } from '../support/address-decisions.js';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { type RedisEndpoint, leaksIn, redisEndpoints } from '../support/leaks.js';
import { RawClient } from '../support/raw-client.js';

// Issue 13, item 4: every command of the decision table, on every proxy of a fleet in front of the
// real cluster, in RESP2 and RESP3: no reply names a Redis node (client or bus port).
describe('no Redis node address reaches a data client (decision table)', () => {
  let fleet: TestFleet;
  let nodes: RedisEndpoint[];
  const masterId = () => sharedCluster().nodes.find((n) => n.role === 'master')!.id;

  beforeAll(async () => {
    fleet = await startFleet({ seeds: sharedCluster().seeds });
    nodes = await redisEndpoints(sharedCluster().seeds[0]!);
    // Something for ACL LOG (a failed AUTH) on every node, and replicated writes for the replicas.
    for (const port of fleet.ports) {
      const c = await RawClient.connect(port);
      await c.call('AUTH', 'sr-nobody', 'wrong').catch(() => undefined);
      c.close();
    }
  });
  afterAll(() => fleet?.stop());

  for (const protocol of [2, 3] as const) {
    for (const d of ADDRESS_DECISIONS) {
      if (d.notRun) {
        it.skip(`RESP${protocol} ${d.run.join(' ')}: ${d.decision} — not run: ${d.notRun}`, () => {});
        continue;
      }
      it(`RESP${protocol} ${d.run.join(' ')}: ${d.decision} (${d.why})`, async () => {
        const args = d.run.map((a) => (a === 'MASTER_ID' || a === 'NODE_ID' ? masterId() : a));
        for (let i = 0; i < fleet.ports.length; i++) {
          const c = await RawClient.connect(fleet.ports[i]!);
          try {
            if (protocol === 3) await c.call('HELLO', '3');
            c.send(encodeCommand(args));
            const bytes = await c.frame();
            expect(leaksIn(bytes, nodes), `proxy ${i}: ${bytes.toString('latin1').slice(0, 300)}`).toEqual([]);
            if (d.decision === 'refused') expect(decodeReply(bytes).type, `proxy ${i}`).toBe(RespType.Error);
          } finally {
            c.close();
          }
        }
      });
    }
  }

  for (const protocol of [2, 3] as const) {
    it(`RESP${protocol}: every rewritten command queued in one MULTI: the EXEC array names no node`, async () => {
      const queued = ADDRESS_DECISIONS.filter((d) => d.decision === 'rewritten').map((d) =>
        d.run.map((a) => (a === 'MASTER_ID' ? masterId() : a)),
      );
      for (let i = 0; i < fleet.ports.length; i++) {
        const c = await RawClient.connect(fleet.ports[i]!);
        try {
          if (protocol === 3) await c.call('HELLO', '3');
          c.send(
            Buffer.concat([encodeCommand(['MULTI']), ...queued.map((q) => encodeCommand(q)), encodeCommand(['EXEC'])]),
          );
          for (let k = 0; k <= queued.length; k++) await c.frame(); // +OK, +QUEUED …
          const exec = await c.frame();
          expect(decodeReply(exec).items, `proxy ${i}`).toHaveLength(queued.length);
          expect(leaksIn(exec, nodes), `proxy ${i}`).toEqual([]);
        } finally {
          c.close();
        }
      }
    });
  }

  it('CLIENT LIST through a proxy shows that proxy as laddr', async () => {
    for (const port of fleet.ports) {
      const c = await RawClient.connect(port);
      try {
        const text = String(await c.call('CLIENT', 'INFO'));
        expect(text).toContain(`laddr=127.0.0.1:${port} `);
      } finally {
        c.close();
      }
    }
  });

  it('CONFIG GET * keeps every parameter but the address ones', async () => {
    const direct = await RawClient.connect(nodes[0]!.port, nodes[0]!.host);
    const all = (await direct.call('CONFIG', 'GET', '*')) as string[];
    direct.close();
    const c = await RawClient.connect(fleet.ports[0]!);
    const proxied = (await c.call('CONFIG', 'GET', '*')) as string[];
    c.close();
    const keys = (a: string[]) => a.filter((_, i) => i % 2 === 0).sort();
    const dropped = keys(all).filter((k) => !keys(proxied).includes(k));
    expect(dropped).toEqual(expect.arrayContaining(['bind', 'port', 'cluster-announce-bus-port']));
    expect(dropped.every((k) => /port|bind|announce|replicaof|slaveof/.test(k))).toBe(true);
  });
});
