import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { RespType, encodeCommand, toPlain } from '@slotrelay/core';
import { keySlot, mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';

/** Messages published per channel by the client tests (the last one is the end marker). */
const MESSAGES = 20;

interface Master {
  id: string;
  port: number;
  slots: Array<[number, number]>;
}

interface Channel {
  name: string;
  slot: number;
  master: Master;
}

const inSlots = (slot: number, slots: Array<[number, number]>) => slots.some(([lo, hi]) => slot >= lo && slot <= hi);

/** `perMaster` channel names (with `prefix`) for every master, chosen by their hash slot. */
function channelsOn(masters: Master[], prefix: string, perMaster: number): Channel[] {
  const out: Channel[] = [];
  for (const master of masters) {
    let found = 0;
    for (let i = 0; i < 10_000 && found < perMaster; i++) {
      const name = `${prefix}:${master.port}:${i}`;
      const slot = keySlot(name);
      if (inSlots(slot, master.slots)) {
        out.push({ name, slot, master });
        found++;
      }
    }
    if (found < perMaster) throw new Error(`no channel found for master ${master.port}`);
  }
  return out;
}

/** What every channel must receive, in order: `MESSAGES - 1` numbered messages, then `end`. */
const expectedMessages = (channel: string) => [
  ...Array.from({ length: MESSAGES - 1 }, (_, i) => `${channel}#${i}`),
  'end',
];

/**
 * Collects (channel, message) pairs; `waitForEnd` resolves once every channel got its `end`
 * marker. Messages on one channel keep their order, so a duplicate or a stray message of an
 * earlier publish shows up before the marker and fails the exact comparison afterwards.
 */
function collector(channels: string[]) {
  const got = new Map<string, string[]>(channels.map((c) => [c, []]));
  const strays: string[] = [];
  return {
    got,
    strays,
    add(channel: string, message: string) {
      const list = got.get(channel);
      if (list) list.push(message);
      else strays.push(`${channel}: ${message}`);
    },
    waitForEnd(what: string) {
      return pollUntil(what, () => channels.every((c) => got.get(c)!.includes('end')), 15_000, 20);
    },
  };
}

// Sharded pub/sub is routed by hash slot like a key: SSUBSCRIBE and SPUBLISH must land on the
// master that owns the channel's slot, which clients find through MOVED and CLUSTER SLOTS — both
// rewritten by the fleet. Here real clients and raw sockets check that every sharded message
// arrives exactly once, on the right channel, and that every redirect names a proxy.
describe('sharded pub/sub through a dynamic fleet', () => {
  let fleet: TestFleet;
  let redisPorts: number[];
  let masters: Master[];
  /** Per test run, so parallel files and repeated runs never share a channel. */
  const prefix = `spubsub-${randomBytes(4).toString('hex')}`;
  /** The proxy that fronts a Redis node: dynamic mapping gives instance k the k-th node by ID. */
  let proxyOf: (redisNodeId: string) => number;

  beforeAll(async () => {
    const cluster = sharedCluster();
    redisPorts = cluster.nodes.map((n) => n.port);
    fleet = await startFleet({ seeds: cluster.seeds.slice(0, 2) });
    masters = await mastersWithSlots(cluster.seeds[0]!);
    expect(masters).toHaveLength(3);
    const byId = cluster.nodes.map((n) => n.id).sort();
    proxyOf = (id) => fleet.ports[byId.indexOf(id)]!;
  });
  afterAll(() => fleet?.stop());

  for (const RESP of [2, 3] as const) {
    it(`node-redis createCluster (RESP${RESP}) gets every sPublish exactly once on the right channel, and plain PUBLISH too`, async () => {
      const channels = channelsOn(masters, `${prefix}:nr${RESP}`, 2);
      expect(new Set(channels.map((c) => c.master.id)).size).toBeGreaterThanOrEqual(2);
      const names = channels.map((c) => c.name);
      const c = createCluster({ rootNodes: [{ url: `redis://127.0.0.1:${fleet.ports[1]}` }], RESP });
      c.on('error', () => {});
      await c.connect();
      try {
        const sharded = collector(names);
        for (const ch of names) await c.sSubscribe(ch, (message, channel) => sharded.add(channel, message));
        for (const ch of names) {
          for (const m of expectedMessages(ch)) {
            // One subscriber exists per channel, on the owner master: SPUBLISH counts exactly it.
            expect(await c.sPublish(ch, m)).toBe(1);
          }
        }
        await sharded.waitForEnd(`every sharded channel's end marker (RESP${RESP})`);
        for (const ch of names) expect(sharded.got.get(ch), ch).toEqual(expectedMessages(ch));
        expect(sharded.strays).toEqual([]);
        // node-redis opened its sharded subscribers on the masters CLUSTER SLOTS named: proxies only.
        for (const n of c.masters) {
          expect(fleet.ports).toContain(n.port);
          expect(redisPorts).not.toContain(n.port);
        }

        // After SUNSUBSCRIBE (one channel per call: node-redis routes a list by its first channel)
        // nobody listens any more.
        for (const ch of names) await c.sUnsubscribe(ch);
        for (const ch of names) expect(await c.sPublish(ch, 'after'), ch).toBe(0);

        // Classic pub/sub is cluster-wide: node-redis PUBLISHes on any node and Redis forwards it
        // over the cluster bus, so messages from different nodes may overtake each other. Each
        // message is therefore awaited before the next is published.
        const classic = `${prefix}:classic${RESP}`;
        const plain = collector([classic]);
        await c.subscribe(classic, (message, channel) => plain.add(channel, message));
        for (const m of expectedMessages(classic)) {
          await c.publish(classic, m);
          await pollUntil(`classic message ${m} (RESP${RESP})`, () => plain.got.get(classic)!.includes(m), 10_000, 5);
        }
        expect(plain.got.get(classic)).toEqual(expectedMessages(classic));
        expect(plain.strays).toEqual([]);
        await c.unsubscribe(classic);
      } finally {
        await c.close();
      }
    });
  }

  for (const protocol of [2, 3] as const) {
    it(`ioredis Cluster (RESP${protocol}) with shardedSubscribers receives every smessage exactly once on the right channel`, async () => {
      const channels = channelsOn(masters, `${prefix}:io${protocol}`, 2);
      const names = channels.map((c) => c.name);
      const c = new Cluster([{ host: '127.0.0.1', port: fleet.ports[2]! }], {
        shardedSubscribers: true,
        redisOptions: { protocol },
      });
      c.on('error', () => {});
      try {
        const sharded = collector(names);
        c.on('smessage', (channel: string, message: string) => sharded.add(channel, message));
        // ioredis sends each SSUBSCRIBE on its subscriber connection to the slot's master (one channel
        // per call: the channels of one SSUBSCRIBE must share a slot); the reply counts the channels
        // of that connection, i.e. of that master.
        for (const [i, ch] of channels.entries()) {
          const sameMaster = channels.slice(0, i + 1).filter((o) => o.master.id === ch.master.id).length;
          expect(await c.ssubscribe(ch.name), ch.name).toBe(sameMaster);
        }
        for (const ch of names) {
          for (const m of expectedMessages(ch)) expect(await c.spublish(ch, m)).toBe(1);
        }
        await sharded.waitForEnd(`every sharded channel's end marker (ioredis, RESP${protocol})`);
        for (const ch of names) expect(sharded.got.get(ch), ch).toEqual(expectedMessages(ch));
        expect(sharded.strays).toEqual([]);
        for (const n of c.nodes('all')) {
          expect(fleet.ports).toContain(n.options.port);
          expect(redisPorts).not.toContain(n.options.port);
        }
      } finally {
        c.disconnect();
      }
    });
  }

  it('on the wire: SSUBSCRIBE at a non-owner proxy gets MOVED to the owner proxy; the owner proxy delivers smessage as a RESP2 array and a RESP3 push', async () => {
    const [channel] = channelsOn(masters.slice(0, 1), `${prefix}:raw`, 1);
    const { name, slot, master } = channel!;
    const owner = proxyOf(master.id);
    const other = proxyOf(masters.find((m) => m.id !== master.id)!.id);
    const clients: RawClient[] = [];
    const connect = async (port: number) => {
      const r = await RawClient.connect(port);
      clients.push(r);
      return r;
    };
    try {
      // Redis answers MOVED with its own address; the fleet names the owner's proxy instead.
      const wrong = await connect(other);
      wrong.send(encodeCommand(['SSUBSCRIBE', name]));
      const moved = await wrong.reply();
      expect(moved.type).toBe(RespType.Error);
      expect(moved.text).toBe(`MOVED ${slot} 127.0.0.1:${owner}`);
      for (const p of redisPorts) expect(moved.text).not.toContain(`:${p}`);
      // The refused SSUBSCRIBE left that connection in normal mode.
      expect(await wrong.call('PING')).toBe('PONG');

      // RESP2: the confirmation and the message are arrays led by their kind.
      const sub2 = await connect(owner);
      sub2.send(encodeCommand(['SSUBSCRIBE', name]));
      const confirm2 = await sub2.reply();
      expect(confirm2.type).toBe(RespType.Array);
      expect(toPlain(confirm2)).toEqual(['ssubscribe', name, 1]);

      const pub = await connect(owner);
      expect(await pub.call('SPUBLISH', name, 'hello-resp2')).toBe(1);
      const msg2 = await sub2.reply();
      expect(msg2.type).toBe(RespType.Array);
      expect(toPlain(msg2)).toEqual(['smessage', name, 'hello-resp2']);

      // RESP3 (HELLO 3 first): the same arrive as `>` push frames.
      const sub3 = await connect(owner);
      sub3.send(encodeCommand(['HELLO', '3']));
      expect((await sub3.reply()).type).toBe(RespType.Map);
      sub3.send(encodeCommand(['SSUBSCRIBE', name]));
      const confirm3 = await sub3.reply();
      expect(confirm3.type).toBe(RespType.Push);
      expect(toPlain(confirm3)).toEqual(['ssubscribe', name, 1]);
      expect(await pub.call('SPUBLISH', name, 'hello-both')).toBe(2);
      const msg3 = await sub3.reply();
      expect(msg3.type).toBe(RespType.Push);
      expect(toPlain(msg3)).toEqual(['smessage', name, 'hello-both']);
      expect(toPlain(await sub2.reply())).toEqual(['smessage', name, 'hello-both']);
      // A subscribed RESP3 connection still runs commands, and their replies pair correctly.
      expect(await sub3.call('PING')).toBe('PONG');
    } finally {
      for (const r of clients) r.close();
    }
  });
});
