import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { RespType, encodeCommand } from '@slotrelay/core';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';
import { redisCli, splitRedirects } from '../support/redis-cli.js';

// A live migration of one slot: reads through the fleet get rewritten ASK redirects and every key
// stays readable; a MULTI whose key lives elsewhere gets a rewritten MOVED.
describe('slot migration through the fleet', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  const tag = '{mig}';
  const keys = Array.from({ length: 100 }, (_, i) => `${tag}:${i}`);
  let slot: number;
  let source: { port: number; id: string };
  let target: { port: number; id: string };
  const proxyOf = (redisPort: number) => fleet.ports[cluster.nodes.findIndex((n) => n.port === redisPort)]!;

  beforeAll(async () => {
    cluster = await startCluster();
    fleet = await startFleet({ seeds: cluster.seeds.slice(0, 1), mappings: 'static', nodes: cluster.nodes });
    slot = Number(await cluster.cli(0, 'CLUSTER', 'KEYSLOT', tag));
    const slots = (await cluster.cli(0, 'CLUSTER', 'NODES'))
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const owner = slots.find(
      (f) =>
        f[2]!.includes('master') &&
        f.slice(8).some((r) => {
          const [lo, hi] = r.split('-').map(Number);
          return slot >= lo! && slot <= (hi ?? lo!);
        }),
    )!;
    const other = slots.find((f) => f[2]!.includes('master') && f[0] !== owner[0])!;
    const port = (f: string[]) => Number(f[1]!.split('@')[0]!.split(':').pop());
    source = { port: port(owner), id: owner[0]! };
    target = { port: port(other), id: other[0]! };
  });
  afterAll(async () => {
    await fleet?.stop();
    await cluster?.stop();
  });

  it('follows rewritten ASK redirects while half the keys have moved', async () => {
    const c = new Cluster([{ host: '127.0.0.1', port: fleet.ports[0]! }]);
    await Promise.all(keys.map((k, i) => c.set(k, `v${i}`)));

    const src = cluster.nodes.find((n) => n.port === source.port)!;
    const dst = cluster.nodes.find((n) => n.port === target.port)!;
    await cluster.cli(dst, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id);
    await cluster.cli(src, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id);
    const moved = keys.slice(0, 50);
    await cluster.cli(src, 'MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...moved);

    // On the wire: the source's proxy answers a moved key with ASK naming the target's proxy.
    const raw = await RawClient.connect(proxyOf(source.port));
    raw.send(encodeCommand(['GET', moved[0]!]));
    const ask = await raw.reply();
    expect(ask.type).toBe(RespType.Error);
    expect(ask.text).toBe(`ASK ${slot} 127.0.0.1:${proxyOf(target.port)}`);
    // ASKING then the command, on the target's proxy, gets the value.
    const rawDst = await RawClient.connect(proxyOf(target.port));
    expect(await rawDst.call('ASKING')).toBe('OK');
    expect(await rawDst.call('GET', moved[0]!)).toBe('v0');
    raw.close();
    rawDst.close();

    // Clients follow ASK transparently: every key, moved or not, is still readable.
    expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
    const cliOut = splitRedirects(
      await redisCli(['-c', '-p', String(proxyOf(source.port))], keys.map((k) => `GET ${k}`).join('\n')),
    );
    expect(cliOut.replies).toEqual(keys.map((_, i) => `v${i}`));
    expect(new Set(cliOut.redirectPorts)).toEqual(new Set([proxyOf(source.port), proxyOf(target.port)]));

    // Finish the migration: the slot now belongs to the target; clients get MOVED and follow it.
    await cluster.cli(src, 'MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys.slice(50));
    for (const n of cluster.masters()) await cluster.cli(n, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', target.id);
    expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
    c.disconnect();
  });

  it('a MULTI whose key lives on another node gets a rewritten MOVED, and EXEC aborts', async () => {
    // After the first test the slot lives on `target`; ask `source`'s proxy.
    const raw = await RawClient.connect(proxyOf(source.port));
    expect(await raw.call('MULTI')).toBe('OK');
    raw.send(encodeCommand(['SET', keys[0]!, 'x']));
    const moved = await raw.reply();
    expect(moved.text).toBe(`MOVED ${slot} 127.0.0.1:${proxyOf(target.port)}`);
    raw.send(encodeCommand(['EXEC']));
    expect((await raw.reply()).text).toMatch(/^EXECABORT/);
    raw.close();
  });
});
