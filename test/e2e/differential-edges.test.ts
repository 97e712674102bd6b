import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type Master, tagOn } from '../support/differential/keys.js';
import { suiteSeed } from '../support/differential/prng.js';
import { type Targets, delKeys, expectIdentical, startTargets } from '../support/differential/runner.js';
import { type Req, req } from '../support/differential/script-client.js';

const raw = (s: string, replies = 1): Req => ({ bytes: Buffer.from(s, 'latin1'), replies });

interface Names {
  /** A key of this case's own (its own hash tag, on the case's node). */
  k: (s: string) => string;
  /** A sharded channel on another node. */
  other: string;
  /** A key on the case's node but in another slot than `k`'s. */
  otherSlot: string;
}

/**
 * Corner cases of reply pairing, each a client of its own: commands whose reply count or framing
 * depends on connection state Redis keeps (CLIENT REPLY, MULTI, RESP version, subscriptions) and
 * on bytes that are not multibulk. `close`: Redis closes the connection after the script.
 */
const CASES: Array<{ name: string; close?: boolean; script: (n: Names) => Req[] }> = [
  {
    name: 'hello-3-inside-multi',
    script: ({ k }) => [
      req(['MULTI']),
      req(['HELLO', '3']),
      req(['EXEC'], { mask: 'hello' }),
      req(['SUBSCRIBE', k('c')]),
      req(['GET', k('x')]),
      req(['PING']),
    ],
  },
  {
    name: 'hello-2-inside-multi-from-3',
    script: ({ k }) => [
      req(['HELLO', '3'], { mask: 'hello' }),
      req(['MULTI']),
      req(['HGETALL', k('h')]),
      req(['HELLO', '2']),
      req(['HGETALL', k('h')]),
      req(['EXEC'], { mask: 'hello' }),
      req(['HGETALL', k('h')]),
    ],
  },
  {
    // Redis itself then sends an EXEC array header whose silenced elements never come: the next
    // replies fill it. The proxy must pass that on as it is.
    name: 'client-reply-off-inside-multi',
    script: ({ k }) => [
      req(['MULTI']),
      req(['CLIENT', 'REPLY', 'OFF']),
      req(['GET', k('x')]),
      req(['EXEC']),
      req(['PING'], { replies: 0 }),
      req(['CLIENT', 'REPLY', 'ON'], { replies: 0 }),
      req(['PING'], { replies: 0 }),
      req(['ECHO', 'end']),
    ],
  },
  {
    name: 'reply-skip-then-reset',
    script: ({ k }) => [
      req(['CLIENT', 'REPLY', 'SKIP'], { replies: 0 }),
      req(['RESET'], { replies: 0 }),
      req(['PING']),
      req(['GET', k('x')]),
    ],
  },
  {
    name: 'reply-skip-then-subscribe',
    script: ({ k }) => [req(['CLIENT', 'REPLY', 'SKIP'], { replies: 0 }), req(['SUBSCRIBE', k('c')]), req(['PING'])],
  },
  {
    name: 'reply-off-ssubscribe-crossslot',
    script: ({ k, otherSlot }) => [
      req(['CLIENT', 'REPLY', 'OFF'], { replies: 0 }),
      req(['SSUBSCRIBE', k('a'), otherSlot], { replies: 0 }),
      req(['CLIENT', 'REPLY', 'ON']),
      req(['PING']),
      req(['GET', k('x')]),
    ],
  },
  {
    name: 'reply-off-ssubscribe-moved',
    script: ({ other }) => [
      req(['CLIENT', 'REPLY', 'OFF'], { replies: 0 }),
      req(['SSUBSCRIBE', other], { replies: 0 }),
      req(['CLIENT', 'REPLY', 'ON']),
      req(['PING']),
      req(['ECHO', 'e']),
    ],
  },
  {
    name: 'reply-skip-ssubscribe-moved',
    script: ({ other }) => [
      req(['CLIENT', 'REPLY', 'SKIP'], { replies: 0 }),
      req(['SSUBSCRIBE', other], { replies: 0 }),
      req(['PING']),
      req(['ECHO', 'e']),
    ],
  },
  {
    name: 'reply-off-subscribe-arity',
    script: () => [
      req(['CLIENT', 'REPLY', 'OFF'], { replies: 0 }),
      req(['SUBSCRIBE'], { replies: 0 }),
      req(['CLIENT', 'REPLY', 'ON']),
      req(['PING']),
    ],
  },
  {
    name: 'psubscribe-inside-multi',
    script: ({ k }) => [
      req(['MULTI']),
      req(['PSUBSCRIBE', k('p*')]),
      req(['EXEC']),
      req(['PING']),
      req(['PUNSUBSCRIBE']),
      req(['PING']),
    ],
  },
  {
    name: 'subscribe-inside-multi',
    script: ({ k }) => [req(['MULTI']), req(['SUBSCRIBE', k('c')]), req(['EXEC']), req(['PING'])],
  },
  {
    name: 'reset-inside-multi',
    script: ({ k }) => [req(['MULTI']), req(['SET', k('x'), '1']), req(['RESET']), req(['EXEC']), req(['GET', k('x')])],
  },
  {
    name: 'inline-and-empty-requests',
    script: ({ k }) => [
      raw('PING\r\n'),
      req(['SET', k('x'), 'v']),
      raw(`GET ${k('x')}\r\n`),
      raw('\r\n', 0),
      raw('*0\r\n', 0),
      raw(`"ECHO" "a b"\r\n`),
      req(['PING']),
    ],
  },
  {
    name: 'hello-errors-and-setname',
    script: () => [
      req(['HELLO', '4']),
      req(['HELLO', '2', 'SETNAME', 'x y']),
      req(['HELLO', '2', 'SETNAME', 'n1'], { mask: 'hello' }),
      req(['CLIENT', 'GETNAME']),
    ],
  },
  { name: 'resp2-subscribed-quit', close: true, script: ({ k }) => [req(['SUBSCRIBE', k('c')]), req(['QUIT'])] },
  {
    name: 'protocol-error-mid-pipeline',
    close: true,
    // The bad frame ends the script: bytes written after Redis closed would draw a RST, which can
    // discard the error reply still unread on the client's side (a race against Redis itself).
    script: () => [req(['PING']), raw('*1\r\n$x\r\n')],
  },
];

// Issue 16, item 3: the differential suite's corner cases of reply pairing, against Redis and the
// two fleets (multiplex off and on), each case written whole and cut at every byte boundary.
//
// Left out, because slotrelay differs from Redis on purpose or Redis's own behaviour is a dead end:
// - CLIENT REPLY OFF then QUIT: Redis neither answers nor closes (QUIT's +OK is silenced, so the
//   close-after-reply never comes) and reads nothing more: the connection hangs until the client
//   closes it. slotrelay closes it.
// - MONITOR: refused through the proxy (README).
describe('differential: corner cases of reply pairing', () => {
  const seed = suiteSeed();
  const prefix = `diffedge-${randomBytes(3).toString('hex')}`;
  let targets: Targets;
  let masters: Master[];

  beforeAll(async () => {
    const cluster = sharedCluster();
    masters = await mastersWithSlots(cluster.seeds[0]!);
    targets = await startTargets(cluster.seeds.slice(0, 2), cluster.nodes);
  });
  afterAll(() => targets?.stop());

  it('every case, written whole and one byte at a time, from concurrent clients; and 5000 pipelined INCRs', async () => {
    const m = masters[0]!;
    const cases = CASES.map((c) => {
      const tag = tagOn(m, `${prefix}.${c.name}`);
      const names: Names = {
        k: (s) => `${tag}:${s}`,
        other: `${tagOn(masters[1]!, `${prefix}.${c.name}.o`)}:ch`,
        otherSlot: `${tagOn(m, `${prefix}.${c.name}.s2`)}:ch`,
      };
      return { ...c, names, keys: ['x', 'h'].map(names.k) };
    });
    const manyTag = tagOn(m, `${prefix}.many`);
    const manyKeys = Array.from({ length: 7 }, (_, i) => `${manyTag}:n${i}`);
    const allKeys = [...cases.flatMap((c) => c.keys), ...manyKeys];
    await expectIdentical(
      {
        name: 'corner cases',
        async reset(run) {
          await delKeys(run, m.port, allKeys);
          const a = await run.admin(m.port);
          for (const c of cases) await a.call('HSET', c.names.k('h'), 'f', 'v');
        },
        cleanup: (run) => delKeys(run, m.port, allKeys),
        async run(run) {
          await Promise.all([
            ...cases.flatMap((c) =>
              (['whole', 'bytes'] as const).map(async (split) => {
                const cl = await run.client(`${c.name}-${split}`, m.port);
                await cl.run(c.script(c.names), split);
                if (c.close) await cl.expectClose();
              }),
            ),
            (async () => {
              const cl = await run.client('many', m.port);
              await cl.run(
                Array.from({ length: 5000 }, (_, i) => req(['INCR', manyKeys[i % 7]!])),
                { random: 50 },
              );
            })(),
          ]);
        },
      },
      targets.all,
      seed,
    );
  });

  it('stateless commands then a stateful one in the same pipeline, from clients sharing a node with plain ones', async () => {
    const m = masters[2]!;
    // Every client has keys of its own; `a` is set to `a0` before each target.
    const STATEFUL: Array<{ name: string; close?: boolean; script: (k: (s: string) => string) => Req[] }> = [
      {
        name: 'multi',
        script: (k) => [
          req(['GET', k('a')]),
          req(['INCR', k('n')]),
          req(['MULTI']),
          req(['INCR', k('n')]),
          req(['GET', k('a')]),
          req(['EXEC']),
          req(['GET', k('n')]),
        ],
      },
      {
        name: 'watch',
        script: (k) => [
          req(['GET', k('a')]),
          req(['WATCH', k('a')]),
          req(['GET', k('a')]),
          req(['MULTI']),
          req(['SET', k('a'), 'w']),
          req(['EXEC']),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'blocking',
        script: (k) => [
          req(['GET', k('a')]),
          req(['BLPOP', k('empty'), '0.1']),
          req(['GET', k('a')]),
          req(['RPUSH', k('l'), 'x']),
          req(['BRPOP', k('l'), 1]),
          req(['PING']),
        ],
      },
      {
        name: 'subscribe-resp2',
        script: (k) => [
          req(['GET', k('a')]),
          req(['SUBSCRIBE', k('ch')]),
          req(['PING']),
          req(['UNSUBSCRIBE', k('ch')]),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'subscribe-resp3',
        script: (k) => [
          req(['HELLO', '3'], { mask: 'hello' }),
          req(['GET', k('a')]),
          req(['SSUBSCRIBE', k('ch')]),
          req(['GET', k('a')]),
          req(['SUNSUBSCRIBE']),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'reply-off',
        script: (k) => [
          req(['GET', k('a')]),
          req(['CLIENT', 'REPLY', 'OFF'], { replies: 0 }),
          req(['SET', k('a'), 'off'], { replies: 0 }),
          req(['CLIENT', 'REPLY', 'ON']),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'tracking',
        script: (k) => [
          req(['HELLO', '3'], { mask: 'hello' }),
          req(['GET', k('a')]),
          req(['CLIENT', 'TRACKING', 'ON']),
          req(['GET', k('a')]),
          req(['CLIENT', 'TRACKING', 'OFF']),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'client-id-and-name',
        script: (k) => [
          req(['GET', k('a')]),
          req(['CLIENT', 'ID'], { mask: 'client-id' }),
          req(['GET', k('a')]),
          req(['CLIENT', 'SETNAME', 'mixname']),
          req(['CLIENT', 'GETNAME']),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'reset',
        script: (k) => [
          req(['GET', k('a')]),
          req(['HELLO', '3'], { mask: 'hello' }),
          req(['HGETALL', k('h')]),
          req(['RESET']),
          req(['HGETALL', k('h')]),
        ],
      },
      {
        name: 'readonly-select-auth',
        script: (k) => [
          req(['GET', k('a')]),
          req(['READONLY']),
          req(['GET', k('a')]),
          req(['READWRITE']),
          req(['SELECT', 0]),
          req(['AUTH', 'nopass']),
          req(['GET', k('a')]),
        ],
      },
      {
        name: 'hello-2',
        script: (k) => [req(['GET', k('a')]), req(['HELLO', '2'], { mask: 'hello' }), req(['HGETALL', k('h')])],
      },
      { name: 'quit', close: true, script: (k) => [req(['GET', k('a')]), req(['QUIT'])] },
    ];
    const clients = STATEFUL.flatMap((c) =>
      (['whole', 'bytes'] as const).map((split) => {
        const t = tagOn(m, `${prefix}.mix.${c.name}.${split}`);
        return { ...c, split, k: (s: string) => `${t}:${s}` };
      }),
    );
    const plain = Array.from({ length: 8 }, (_, i) => tagOn(m, `${prefix}.mix.plain.${i}`));
    const keys = [
      ...clients.flatMap((c) => ['a', 'n', 'l', 'empty', 'h'].map(c.k)),
      ...plain.flatMap((t) => [`${t}:x`, `${t}:n`]),
    ];
    await expectIdentical(
      {
        name: 'stateful after stateless',
        async reset(run) {
          await delKeys(run, m.port, keys);
          const a = await run.admin(m.port);
          for (const c of clients) {
            await a.call('SET', c.k('a'), 'a0');
            await a.call('HSET', c.k('h'), 'f', 'v');
          }
        },
        cleanup: (run) => delKeys(run, m.port, keys),
        async run(run) {
          await Promise.all([
            ...clients.map(async (c) => {
              const cl = await run.client(`${c.name}-${c.split}`, m.port);
              await cl.run(c.script(c.k), c.split);
              if (c.close) await cl.expectClose();
            }),
            ...plain.map(async (t, i) => {
              const cl = await run.client(`plain${i}`, m.port);
              for (let round = 0; round < 20; round++) {
                await cl.run(
                  [req(['SET', `${t}:x`, `${i}.${round}`]), req(['INCR', `${t}:n`]), req(['GET', `${t}:x`])],
                  { random: 5 },
                );
              }
            }),
          ]);
        },
      },
      targets.all,
      seed,
    );
  });
});
