import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { keySlot } from '@slotrelay/local-cluster';
import { mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { isBlocked } from '../support/differential/checks.js';
import { type Master, inSlots, tagOn } from '../support/differential/keys.js';
import { suiteSeed } from '../support/differential/prng.js';
import { type Targets, delKeys, expectIdentical, startTargets } from '../support/differential/runner.js';
import { req } from '../support/differential/script-client.js';

/** A channel name (with `prefix`) whose slot `master` owns. */
function channelOn(master: Master, prefix: string): string {
  for (let i = 0; i < 100_000; i++) if (inSlots(keySlot(`${prefix}.${i}`), master.slots)) return `${prefix}.${i}`;
  throw new Error('no channel found');
}

const hello = (resp3: boolean) => (resp3 ? [req(['HELLO', '3'], { mask: 'hello' })] : []);

// Issue 16, item 3 (part 2 of 2): the differential suite's stateful workloads — transactions and
// WATCH conflicts, blocking commands, pub/sub and sharded pub/sub, CLIENT REPLY, RESET, QUIT,
// tracking — each against Redis, a fleet with `multiplex: false` and one with `multiplex: true`.
// Every step that depends on another client is sequenced by awaiting replies (or, for a client
// that must be blocked first, by polling the node's CLIENT LIST), so Redis's replies are the same
// on every run and any difference is the proxy's.
describe('differential: connection state', () => {
  const seed = suiteSeed();
  const prefix = `diffst-${randomBytes(3).toString('hex')}`;
  let targets: Targets;
  let masters: Master[];

  beforeAll(async () => {
    const cluster = sharedCluster();
    masters = await mastersWithSlots(cluster.seeds[0]!);
    targets = await startTargets(cluster.seeds.slice(0, 2), cluster.nodes);
  });
  afterAll(() => targets?.stop());

  it('MULTI/EXEC/DISCARD with queued and runtime errors, and WATCH conflicts scripted between two clients', async () => {
    const m = masters[0]!;
    const tag = tagOn(m, `${prefix}.tx`);
    const other = `${tagOn(masters[1]!, `${prefix}.tx.other`)}:k`;
    const k = (s: string) => `${tag}:${s}`;
    const keys = ['k1', 'n', 'w', 'u'].flatMap((s) => [0, 1].map((p) => k(`${s}${p}`)));
    await expectIdentical(
      {
        name: 'transactions',
        reset: (run) => delKeys(run, m.port, keys),
        cleanup: (run) => delKeys(run, m.port, keys),
        async run(run) {
          for (const p of [0, 1]) {
            const resp3 = p === 1;
            const key = (s: string) => k(`${s}${p}`);
            const c1 = await run.client(`tx1-resp${p + 2}`, m.port);
            const c2 = await run.client(`tx2-resp${p + 2}`, m.port);
            await c1.run(
              [
                ...hello(resp3),
                req(['MULTI']),
                req(['SET', key('k1'), 'a']),
                req(['INCR', key('k1')]),
                req(['GET', key('k1')]),
                req(['EXEC']),
                req(['MULTI']),
                req(['SET', key('k1'), 'b']),
                req(['NOSUCHCOMMAND']),
                req(['EXEC']),
                req(['MULTI']),
                req(['SET', key('k1'), 'c']),
                req(['GET']),
                req(['DISCARD']),
                req(['EXEC']),
                req(['DISCARD']),
                req(['MULTI']),
                req(['MULTI']),
                req(['PING']),
                req(['EXEC']),
                req(['MULTI']),
                req(['GET', other]),
                req(['EXEC']),
                req(['MULTI']),
                req(['WATCH', key('k1')]),
                req(['EXEC']),
                req(['MULTI']),
                req(['EXEC']),
                req(['GET', key('k1')]),
              ],
              'bytes',
            );
            // A WATCH conflict: c2 writes the watched key between c1's WATCH and EXEC.
            await c2.run([...hello(resp3)]);
            await c1.run([req(['WATCH', key('k1')])]);
            await c2.run([req(['SET', key('k1'), 'other'])]);
            await c1.run(
              [req(['MULTI']), req(['SET', key('k1'), 'mine']), req(['EXEC']), req(['GET', key('k1')])],
              'bytes',
            );
            // No conflict.
            await c1.run([req(['WATCH', key('k1')]), req(['MULTI']), req(['INCR', key('n')]), req(['EXEC'])]);
            // The client's own write after WATCH also aborts.
            await c1.run([
              req(['WATCH', key('k1')]),
              req(['SET', key('k1'), 'self']),
              req(['MULTI']),
              req(['GET', key('k1')]),
              req(['EXEC']),
            ]);
            // UNWATCH forgets: c2's write no longer aborts.
            await c1.run([req(['WATCH', key('k1'), key('w')]), req(['UNWATCH'])]);
            await c2.run([req(['SET', key('k1'), 'x'])]);
            await c1.run([req(['MULTI']), req(['GET', key('k1')]), req(['EXEC'])]);
            // A watched key that did not exist, created by c2; then DISCARD drops the watch too.
            await c1.run([req(['WATCH', key('u')])]);
            await c2.run([req(['SET', key('u'), '1'])]);
            await c1.run([req(['MULTI']), req(['GET', key('u')]), req(['EXEC'])]);
            await c1.run([req(['WATCH', key('u')]), req(['MULTI']), req(['DISCARD'])]);
            await c2.run([req(['SET', key('u'), '2'])]);
            await c1.run([req(['MULTI']), req(['GET', key('u')]), req(['EXEC'])]);
          }
        },
      },
      targets.all,
      seed,
    );
  });

  it('blocking commands that time out and that are served by another client', async () => {
    const m = masters[1]!;
    const tag = tagOn(m, `${prefix}.blk`);
    const k = (s: string) => `${tag}:${s}`;
    const keys = ['empty', 'lq', 'st', 'src', 'dst', 'z', 'full'].flatMap((s) => [0, 1].map((p) => k(`${s}${p}`)));
    await expectIdentical(
      {
        name: 'blocking',
        reset: (run) => delKeys(run, m.port, keys),
        cleanup: (run) => delKeys(run, m.port, keys),
        async run(run) {
          for (const p of [0, 1]) {
            const resp3 = p === 1;
            const key = (s: string) => k(`${s}${p}`);
            const name = `${prefix}-blocker-${p}`;
            const b1 = await run.client(`blocker-resp${p + 2}`, m.port);
            const b2 = await run.client(`pusher-resp${p + 2}`, m.port);
            await b2.run(hello(resp3));
            // Time out (0.1 s), and return at once when there is data; inside MULTI never block.
            await b1.run(
              [
                ...hello(resp3),
                req(['CLIENT', 'SETNAME', name]),
                req(['BLPOP', key('empty'), '0.1']),
                req(['XREAD', 'BLOCK', 100, 'STREAMS', key('st'), '$']),
                req(['BZPOPMIN', key('z'), '0.1']),
                req(['RPUSH', key('full'), 'x', 'y']),
                req(['BRPOP', key('full'), 1]),
                req(['MULTI']),
                req(['BLPOP', key('empty'), 0]),
                req(['EXEC']),
                req(['PING']),
              ],
              'bytes',
            );
            // Served while blocked: BLPOP, then LPUSH from b2 once the node shows b1 blocked.
            const served = async (
              blocking: ReturnType<typeof req>,
              serve: Array<ReturnType<typeof req>>,
              what: string,
            ) => {
              await b1.send(blocking);
              await run.waitFor(`${what} blocked`, m.port, (a) => isBlocked(a, name));
              await b2.run(serve);
              await b1.expect(1);
            };
            await served(req(['BLPOP', key('lq'), 5]), [req(['LPUSH', key('lq'), 'v1', 'v2'])], 'BLPOP');
            await b2.run([req(['LRANGE', key('lq'), 0, -1])]);
            await served(
              req(['XREAD', 'BLOCK', 5000, 'STREAMS', key('st'), '$']),
              [req(['XADD', key('st'), '1-1', 'f', 'v'])],
              'XREAD',
            );
            await served(
              req(['BLMOVE', key('src'), key('dst'), 'LEFT', 'RIGHT', 5]),
              [req(['RPUSH', key('src'), 'a', 'b']), req(['LRANGE', key('dst'), 0, -1])],
              'BLMOVE',
            );
            await served(req(['BZPOPMIN', key('z'), 5]), [req(['ZADD', key('z'), 2, 'two'])], 'BZPOPMIN');
            await b1.run([
              req(['LRANGE', key('src'), 0, -1]),
              req(['LRANGE', key('dst'), 0, -1]),
              req(['PING', 'end']),
            ]);
          }
        },
      },
      targets.all,
      seed,
    );
  });

  it('pub/sub and sharded pub/sub, RESP2 and RESP3', async () => {
    const [m0, m1] = [masters[0]!, masters[1]!];
    await expectIdentical(
      {
        name: 'pub/sub',
        reset: async () => {},
        async run(run) {
          for (const p of [0, 1]) {
            const resp3 = p === 1;
            const ch = (s: string) => `${prefix}.ps${p}.${s}`;
            const sch = channelOn(m0, `${prefix}.sps${p}`);
            const schElsewhere = channelOn(m1, `${prefix}.sps${p}.x`);
            const sub = await run.client(`sub-resp${p + 2}`, m0.port);
            const far = await run.client(`far-sub-resp${p + 2}`, m1.port);
            const ssub = await run.client(`ssub-resp${p + 2}`, m0.port);
            const pub = await run.client(`pub-resp${p + 2}`, m0.port);
            await pub.run(hello(resp3));
            await sub.run(
              [
                ...hello(resp3),
                req(['SUBSCRIBE', ch('a'), ch('b')], { replies: 2 }),
                req(['PSUBSCRIBE', `${prefix}.ps${p}.*`]),
              ],
              'bytes',
            );
            await pub.run([req(['PUBLISH', ch('a'), 'm1'])]);
            await sub.expect(2); // message, then pmessage
            await pub.run([req(['PUBLISH', ch('zzz'), 'm2'])]);
            await sub.expect(1);
            // In RESP2 a subscribed client may only (un)subscribe, PING, QUIT, RESET; RESP3 runs anything.
            await sub.run([req(['PING']), req(['PING', 'x']), req(['GET', ch('a')]), req(['ECHO', 'e'])], 'bytes');
            await sub.run(
              [
                req(['UNSUBSCRIBE', ch('a')]),
                req(['UNSUBSCRIBE']),
                req(['UNSUBSCRIBE']),
                req(['PUNSUBSCRIBE']),
                req(['PING']),
              ],
              'bytes',
            );
            await pub.run([req(['PUBLISH', ch('a'), 'nobody'])]);
            // Classic pub/sub crosses nodes over the cluster bus.
            await far.run([...hello(resp3), req(['SUBSCRIBE', ch('far')])]);
            await pub.run([req(['PUBLISH', ch('far'), 'over-the-bus'])]);
            await far.expect(1);
            await far.run([req(['UNSUBSCRIBE', ch('far')])]);
            // Sharded: on the channel's owner only; elsewhere a MOVED.
            await ssub.run([...hello(resp3), req(['SSUBSCRIBE', sch]), req(['SSUBSCRIBE', schElsewhere])], 'bytes');
            await pub.run([req(['SPUBLISH', sch, 'sm1']), req(['SPUBLISH', schElsewhere, 'x'])]);
            await ssub.expect(1);
            await ssub.run([req(['SUNSUBSCRIBE', sch]), req(['PING', 'after'])]);
            await pub.run([req(['SPUBLISH', sch, 'nobody'])]);
            // SUBSCRIBE then RESET: out of pub/sub, and no message any more.
            await sub.run([req(['SUBSCRIBE', ch('r')]), req(['RESET']), req(['PING'])], 'bytes');
            await pub.run([req(['PUBLISH', ch('r'), 'after-reset'])]);
            await sub.run([req(['PING', 'last'])]);
          }
        },
      },
      targets.all,
      seed,
    );
  });

  it('CLIENT REPLY OFF/ON/SKIP, RESET, SELECT, CLIENT SETNAME/ID/INFO/LIST, INFO clients, TIME, WAIT, tracking, QUIT', async () => {
    const m = masters[2]!;
    const tag = tagOn(m, `${prefix}.conn`);
    const k = (s: string) => `${tag}:${s}`;
    const keys = ['r', 'x', 'h', 't', 'w'].map(k);
    await expectIdentical(
      {
        name: 'connection state',
        reset: (run) => delKeys(run, m.port, keys),
        cleanup: (run) => delKeys(run, m.port, keys),
        async run(run) {
          for (const p of [0, 1]) {
            const resp3 = p === 1;
            const c = await run.client(`reply-resp${p + 2}`, m.port);
            await c.run(
              [
                ...hello(resp3),
                req(['SET', k('r'), '1']),
                req(['CLIENT', 'REPLY', 'OFF'], { replies: 0 }),
                req(['SET', k('r'), '2'], { replies: 0 }),
                req(['GET', k('r')], { replies: 0 }),
                req(['NOSUCHCOMMAND'], { replies: 0 }),
                req(['CLIENT', 'REPLY', 'ON']),
                req(['GET', k('r')]),
                req(['CLIENT', 'REPLY', 'SKIP'], { replies: 0 }),
                req(['INCR', k('r')], { replies: 0 }),
                req(['GET', k('r')]),
                req(['CLIENT', 'REPLY', 'SKIP'], { replies: 0 }),
                req(['CLIENT', 'REPLY', 'SKIP'], { replies: 0 }),
                req(['GET', k('r')], { replies: 0 }),
                req(['GET', k('r')]),
                // (CLIENT REPLY OFF inside MULTI is left out: Redis itself then sends an EXEC array
                // header whose elements never come, and the next replies fill it.)
                req(['CLIENT', 'REPLY', 'OFF'], { replies: 0 }),
                // Pub/sub confirmations are pushes: CLIENT REPLY OFF does not silence them.
                req(['SUBSCRIBE', `${prefix}.off${p}`]),
                req(['RESET']),
                req(['GET', k('r')]),
              ],
              'bytes',
            );

            const r = await run.client(`reset-resp${p + 2}`, m.port);
            await r.run(
              [
                ...hello(resp3),
                req(['CLIENT', 'SETNAME', `${prefix}-reset-${p}`]),
                req(['HSET', k('h'), 'f', 'v']),
                req(['MULTI']),
                req(['SET', k('x'), 'queued']),
                req(['RESET']),
                req(['EXEC']),
                req(['GET', k('x')]),
                req(['CLIENT', 'GETNAME']),
                req(['HELLO', '3'], { mask: 'hello' }),
                req(['HGETALL', k('h')]),
                req(['RESET']),
                req(['HGETALL', k('h')]),
                req(['WATCH', k('x')]),
                req(['RESET']),
              ],
              'bytes',
            );

            const s = await run.client(`misc-resp${p + 2}`, m.port);
            const [, , , , idFrame] = await s.run([
              ...(resp3 ? hello(true) : [req(['PING'])]),
              req(['SELECT', 0]),
              req(['SELECT', 1]),
              req(['CLIENT', 'SETNAME', `${prefix}-misc-${p}`]),
              req(['CLIENT', 'ID'], { mask: 'client-id' }),
              req(['CLIENT', 'GETNAME']),
              req(['CLIENT', 'INFO'], { mask: 'client-info' }),
              req(['INFO', 'clients'], { mask: 'info-clients' }),
              req(['TIME'], { mask: 'time' }),
              req(['SET', k('w'), 'x']),
              req(['WAIT', 1, 5000]),
              req(['WAIT', 0, 0]),
              req(['CLIENT', 'SETNAME', '']),
              req(['CLIENT', 'GETNAME']),
            ]);
            await s.run([req(['CLIENT', 'LIST', 'ID', idFrame!.line!], { mask: 'client-info' })]);

            // Tracking (RESP3 pushes; RESP2 needs a redirect to another connection, left out).
            if (resp3) {
              const t = await run.client('tracking', m.port);
              const w = await run.client('tracking-writer', m.port);
              await t.run([
                ...hello(true),
                req(['CLIENT', 'TRACKING', 'ON']),
                req(['GET', k('t')]),
                req(['CLIENT', 'GETREDIR']),
                req(['CLIENT', 'TRACKINGINFO']),
              ]);
              await w.run([req(['SET', k('t'), 'changed'])]);
              await t.expect(1); // >invalidate [key]
              await t.run([req(['GET', k('t')]), req(['CLIENT', 'TRACKING', 'OFF'])]);
              await w.run([req(['SET', k('t'), 'again'])]);
              await t.run([req(['PING', 'no-invalidate-before-me'])]);
            }

            // QUIT: its +OK, then the server closes and reads nothing after it.
            const q = await run.client(`quit-resp${p + 2}`, m.port);
            await q.run([...hello(resp3), req(['PING']), req(['QUIT']), req(['PING'], { replies: 0 })], 'bytes');
            await q.expectClose();
          }
        },
      },
      targets.all,
      seed,
    );
  });
});
