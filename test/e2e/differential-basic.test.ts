import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type Master, tagOn } from '../support/differential/keys.js';
import { suiteSeed } from '../support/differential/prng.js';
import { isBlocked, isGone } from '../support/differential/checks.js';
import { type Targets, type Workload, delKeys, expectIdentical, startTargets } from '../support/differential/runner.js';
import { type Req, type Split, req } from '../support/differential/script-client.js';

// Issue 16, item 3 (part 1 of 2): the differential suite. Each workload runs its scripted clients
// against Redis itself, a fleet with `multiplex: false` and a fleet with `multiplex: true`, from
// the same start state, and every client's reply stream must be identical to Redis's after the
// minimal normalization listed in test/support/differential/normalize.ts.
describe('differential: plain pipelines, big values, disconnects', () => {
  const seed = suiteSeed();
  const prefix = `diff-${randomBytes(3).toString('hex')}`;
  let targets: Targets;
  let masters: Master[];

  beforeAll(async () => {
    const cluster = sharedCluster();
    masters = await mastersWithSlots(cluster.seeds[0]!);
    targets = await startTargets(cluster.seeds.slice(0, 2), cluster.nodes);
  });
  afterAll(() => targets?.stop());

  const check = (w: Workload) => expectIdentical(w, targets.all, seed);

  /** The plain script of one client: data types, nil, errors, a MOVED, on its own tag. */
  function plainScript(tag: string, otherKey: string, resp3: boolean, withCluster: boolean): Req[] {
    const k = (s: string) => `${tag}:${s}`;
    return [
      ...(resp3 ? [req(['HELLO', '3'], { mask: 'hello' })] : []),
      req(['PING']),
      req(['PING', 'hello world']),
      req(['ECHO', Buffer.from([0, 1, 2, 13, 10, 255])]),
      req(['SET', k('s'), 'value-1']),
      req(['GET', k('s')]),
      req(['APPEND', k('s'), '\r\n*1\r\n$3\r\nbad']),
      req(['GET', k('s')]),
      req(['INCR', k('n')]),
      req(['INCRBY', k('n'), 41]),
      req(['INCRBYFLOAT', k('f'), '1.5']),
      req(['LPUSH', k('l'), 'a', 'b', 'c']),
      req(['LRANGE', k('l'), 0, -1]),
      req(['LPOP', k('l')]),
      req(['HSET', k('h'), 'f1', 'v1', 'f2', 'v2']),
      req(['HGETALL', k('h')]),
      req(['HGET', k('h'), 'nope']),
      req(['SADD', k('set'), 3, 1, 2]),
      req(['SMEMBERS', k('set')]),
      req(['ZADD', k('z'), 1, 'a', 2.5, 'b']),
      req(['ZRANGE', k('z'), 0, -1, 'WITHSCORES']),
      req(['ZSCORE', k('z'), 'b']),
      req(['MGET', k('s'), k('n'), k('missing')]),
      req(['EXISTS', k('s'), k('missing')]),
      req(['TYPE', k('h')]),
      req(['TTL', k('s')]),
      req(['STRLEN', k('s')]),
      // Errors: WRONGTYPE, unknown command, wrong arity, not an integer, CROSSSLOT, MOVED.
      req(['GET', k('l')]),
      req(['NOSUCHCOMMAND', 'x', 'y']),
      req(['GET']),
      req(['INCR', k('s')]),
      req(['MGET', k('s'), `${k('s')}-not-tagged`]),
      req(['GET', otherKey]),
      req(['SET', otherKey, 'x']),
      req(['DEL', k('s')]),
      req(['GET', k('s')]),
      ...(withCluster
        ? [req(['CLUSTER', 'KEYSLOT', k('s')]), req(['CLUSTER', 'SLOTS'], { mask: 'cluster-addresses' })]
        : []),
      req(['PING', 'end']),
    ];
  }

  it('20 concurrent clients, RESP2 and RESP3, pipelined scripts cut at every byte boundary', async () => {
    const clients = Array.from({ length: 20 }, (_, i) => {
      const master = masters[i % masters.length]!;
      const other = masters[(i + 1) % masters.length]!;
      const tag = tagOn(master, `${prefix}.plain.${i}`);
      return {
        name: `c${i}`,
        master,
        tag,
        otherKey: `${tagOn(other, `${prefix}.plain.other.${i}`)}:k`,
        resp3: i % 2 === 1,
        split: (i % 4 === 3 ? { random: 12 } : 'bytes') as Split,
      };
    });
    const keysOf = (c: (typeof clients)[number]) =>
      ['s', 'n', 'f', 'l', 'h', 'set', 'z', 'missing'].map((s) => `${c.tag}:${s}`);
    await check({
      name: 'plain pipelines',
      async reset(run) {
        for (const m of masters) await delKeys(run, m.port, clients.filter((c) => c.master === m).flatMap(keysOf));
      },
      async run(run) {
        await Promise.all(
          clients.map(async (c, i) => {
            const cl = await run.client(c.name, c.master.port);
            await cl.run(plainScript(c.tag, c.otherKey, c.resp3, i < 2), c.split);
            // Then the same again, whole, so the second pass starts from the first's state.
            await cl.run(plainScript(c.tag, c.otherKey, false, false), 'whole');
          }),
        );
      },
      async cleanup(run) {
        await this.reset(run);
      },
    });
  });

  it('a short pipeline cut once at each byte position, RESP2 and RESP3', async () => {
    const master = masters[0]!;
    const tag = tagOn(master, `${prefix}.positions`);
    await check({
      name: 'every split position',
      async reset(run) {
        await delKeys(run, master.port, [`${tag}:n`, `${tag}:s`]);
      },
      async run(run) {
        for (const resp3 of [false, true]) {
          const cl = await run.client(`positions-resp${resp3 ? 3 : 2}`, master.port);
          if (resp3) await cl.run([req(['HELLO', '3'], { mask: 'hello' })]);
          const script = [
            req(['INCR', `${tag}:n`]),
            req(['SET', `${tag}:s`, 'x'], {}),
            req(['GET', `${tag}:s`]),
            req(['NOSUCH']),
            req(['HGET', `${tag}:s`, 'f']),
          ];
          const len = Buffer.concat(script.map((r) => r.bytes)).length;
          for (let p = 1; p < len; p++) await cl.run(script, { at: [p] });
        }
      },
    });
  });

  it('20 MB values SET and GET with random cuts, interleaved with small requests of other clients on the node', async () => {
    const master = masters[1]!;
    const tag = tagOn(master, `${prefix}.big`);
    const MB = 1024 * 1024;
    const big = Buffer.alloc(20 * MB + 17);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const big2 = Buffer.concat([big.subarray(7), Buffer.from('tail\r\n$5\r\n')]);
    const smallKeys = Array.from({ length: 4 }, (_, i) => `${tag}:small${i}`);
    await check({
      name: 'big values',
      async reset(run) {
        await delKeys(run, master.port, [`${tag}:big`, `${tag}:big2`, ...smallKeys]);
      },
      async run(run) {
        const bigClient = await run.client('big', master.port);
        const bigClient2 = await run.client('big2-resp3', master.port);
        await bigClient2.run([req(['HELLO', '3'], { mask: 'hello' })]);
        const smalls = await Promise.all(smallKeys.map((_, i) => run.client(`small${i}`, master.port)));
        // A fixed number of rounds each (the reply streams must not depend on timing), running while
        // the big requests and replies are cut and in flight on the same node.
        const smallLoops = smalls.map(async (cl, i) => {
          for (let round = 0; round < 40; round++) {
            await cl.run([req(['INCR', smallKeys[i]!]), req(['GET', smallKeys[i]!]), req(['ECHO', `r${round}`])], {
              random: 3,
            });
          }
        });
        await Promise.all([
          (async () => {
            await bigClient.run(
              [req(['SET', `${tag}:big`, big]), req(['GET', `${tag}:big`]), req(['STRLEN', `${tag}:big`])],
              { random: 40 },
            );
            await bigClient.run([req(['GET', `${tag}:big`]), req(['PING'])], { random: 5 });
          })(),
          (async () => {
            await bigClient2.run(
              [
                req(['SET', `${tag}:big2`, big2]),
                req(['GETRANGE', `${tag}:big2`, 0, 99]),
                req(['GET', `${tag}:big2`]),
                req(['MGET', `${tag}:big2`, `${tag}:missing`, `${tag}:big2`]),
              ],
              { random: 40 },
            );
          })(),
        ]);
        await Promise.all(smallLoops);
      },
      async cleanup(run) {
        await this.reset(run);
      },
    });
  });

  it('a client that disconnects with replies in flight, or while blocked: the others get exactly their own replies', async () => {
    const master = masters[2]!;
    const tag = tagOn(master, `${prefix}.gone`);
    const k = (s: string) => `${tag}:${s}`;
    const bigValue = Buffer.alloc(4 * 1024 * 1024, 0x61);
    bigValue.write('head', 0);
    const keys = ['big', 'b', 'c', 'q', 'cbig'].map(k);
    const blockedName = `${prefix}-gone-blocked`;
    await check({
      name: 'disconnect in flight',
      async reset(run) {
        await delKeys(run, master.port, keys);
        const a = await run.admin(master.port);
        await a.call('SET', k('big'), bigValue);
      },
      cleanup: (run) => delKeys(run, master.port, keys),
      async run(run) {
        const a = await run.client('a-leaves', master.port, { compare: false });
        const b = await run.client('b', master.port);
        const bRounds = async (from: number, to: number) => {
          for (let round = from; round < to; round++) {
            await b.run([req(['INCR', k('b')]), req(['ECHO', `b${round}`]), req(['GET', k('b')])], { random: 4 });
          }
        };
        // A asks for 40 copies of a 4 MB value (160 MB of replies) and leaves after the first.
        const aGone = (async () => {
          await a.send(Array.from({ length: 40 }, () => req(['GET', k('big')])));
          await a.expect(1);
          a.close();
        })();
        await Promise.all([aGone, bRounds(0, 30)]);
        await bRounds(30, 40);
        // A client that arrives after A left, on the same node, big reply included.
        const c = await run.client('c', master.port);
        await c.run([
          req(['SET', k('cbig'), bigValue.subarray(0, 1024 * 1024)]),
          req(['STRLEN', k('cbig')]),
          req(['GET', k('c')]),
          req(['GETRANGE', k('big'), 0, 9]),
          req(['PING', 'c-end']),
        ]);
        await Promise.all([bRounds(40, 50), c.run([req(['GETRANGE', k('cbig'), 0, 3]), req(['ECHO', 'c-last'])])]);

        // D blocks in BLPOP and leaves: Redis must forget it (no one left to serve), so a later
        // LPUSH stays in the list.
        const d = await run.client('d-blocked-leaves', master.port, { compare: false });
        await d.run([req(['CLIENT', 'SETNAME', blockedName])]);
        await d.send(req(['BLPOP', k('q'), 0]));
        await run.waitFor('D blocked', master.port, (adm) => isBlocked(adm, blockedName));
        d.close();
        await run.waitFor("D's connection gone from the node", master.port, (adm) => isGone(adm, blockedName));
        await b.run([req(['LPUSH', k('q'), 'kept']), req(['LRANGE', k('q'), 0, -1]), req(['PING', 'b-end'])]);
      },
    });
  });
});
