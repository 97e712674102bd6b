import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { COMPLETE, type Middleware, encodeCommand, encodeSimple } from '@slotrelay/core';
import { sessionHarness } from '@slotrelay/testkit';

/** Answers LOCALPING itself; LATERPING after a delay (a deferred local reply). */
const localAnswers: Middleware = {
  name: 'local-answers',
  commands: ['LOCALPING', 'LATERPING'],
  requests: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++) {
        const f = b.frames[i]!;
        if (f.command === 'LOCALPING') s.answer(f, encodeSimple(`LOCALPONG ${f.args()[1]?.toString() ?? ''}`.trim()));
        if (f.command === 'LATERPING')
          s.answer(f, new Promise((r) => setTimeout(() => r(encodeSimple('LATERPONG')), 20)));
      }
      return b;
    }),
};

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

describe('session: reply order', () => {
  it('keeps pipeline order when a request in the middle is answered locally', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    h.clientSends(cmd('SET', 'k', 'v') + cmd('LOCALPING', 'x') + cmd('GET', 'k'));
    // The local request never reaches Redis.
    expect(h.toRedis()).toBe(cmd('SET', 'k', 'v') + cmd('GET', 'k'));
    expect(h.toClient()).toBe(''); // its reply waits for SET's
    h.redisSends('+OK\r\n');
    expect(h.toClient()).toBe('+OK\r\n+LOCALPONG x\r\n');
    h.redisSends('$1\r\nv\r\n');
    expect(h.toClient()).toBe('+OK\r\n+LOCALPONG x\r\n$1\r\nv\r\n');
  });

  it('answers at once when nothing is in flight, and keeps order for several local replies in a row', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    h.clientSends(cmd('LOCALPING', '1') + cmd('LOCALPING', '2'));
    expect(h.toClient()).toBe('+LOCALPONG 1\r\n+LOCALPONG 2\r\n');
    h.clientSends(cmd('GET', 'a') + cmd('LOCALPING', '3') + cmd('LOCALPING', '4') + cmd('GET', 'b'));
    h.redisSends('$1\r\nA\r\n$1');
    expect(h.toClient()).toBe('+LOCALPONG 1\r\n+LOCALPONG 2\r\n$1\r\nA\r\n+LOCALPONG 3\r\n+LOCALPONG 4\r\n');
    h.redisSends('\r\nB\r\n');
    expect(h.toClient().endsWith('+LOCALPONG 4\r\n$1\r\nB\r\n')).toBe(true);
  });

  it('holds later replies behind a local reply that is not ready yet', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    h.clientSends(cmd('LATERPING') + cmd('GET', 'k'));
    h.redisSends('$1\r\nv\r\n');
    expect(h.toClient()).toBe('');
    await new Promise((r) => setTimeout(r, 40));
    expect(h.toClient()).toBe('+LATERPONG\r\n$1\r\nv\r\n');
  });

  it('keeps order when the local request arrives split across chunks', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    const bytes = cmd('GET', 'a') + cmd('LOCALPING', 'z') + cmd('GET', 'b');
    for (const ch of bytes) h.clientSends(ch);
    expect(h.toRedis()).toBe(cmd('GET', 'a') + cmd('GET', 'b'));
    h.redisSends('$1\r\nA\r\n$1\r\nB\r\n');
    expect(h.toClient()).toBe('$1\r\nA\r\n+LOCALPONG z\r\n$1\r\nB\r\n');
  });

  it('forwards a batch nobody touched as the very same bytes', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    const bytes = Buffer.from(cmd('SET', 'a', '1') + cmd('GET', 'a') + 'PING\r\n');
    h.clientSends(bytes);
    expect(h.upstream.chunks.length).toBe(1);
    expect(h.upstream.chunks[0]!.equals(bytes)).toBe(true);
  });

  it('answers inline commands locally too', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    h.clientSends('localping inline\r\n');
    expect(h.toClient()).toBe('+LOCALPONG inline\r\n');
    expect(h.toRedis()).toBe('');
  });

  it('only complete frames reach a middleware as decodable', async () => {
    const kinds: number[] = [];
    const spy: Middleware = {
      name: 'spy',
      requests: () =>
        map((b) => {
          for (let i = 0; i < b.count; i++) kinds.push(b.frames[i]!.kind);
          return b;
        }),
    };
    const h = await sessionHarness({ middleware: [spy], session: { holdLimit: 16 } });
    h.clientSends(cmd('SET', 'k', 'x'.repeat(100)).slice(0, 40));
    h.clientSends(cmd('SET', 'k', 'x'.repeat(100)).slice(40));
    expect(kinds.every((k) => k !== COMPLETE)).toBe(true); // streamed: too big to hold, nobody watches SET
    expect(h.toRedis()).toBe(cmd('SET', 'k', 'x'.repeat(100)));
  });
});

describe('session: the fast lane and the general path agree', () => {
  it('plain chunks and a local answer in separate chunks keep their order', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    h.clientSends(cmd('GET', 'a')); // fast lane: counted, forwarded as is
    h.clientSends(cmd('LOCALPING', 'x')); // general path: answered behind GET a
    h.clientSends(cmd('GET', 'b') + cmd('GET', 'c')); // fast lane again
    expect(h.toRedis()).toBe(cmd('GET', 'a') + cmd('GET', 'b') + cmd('GET', 'c'));
    h.redisSends('$1\r\nA\r\n');
    expect(h.toClient()).toBe('$1\r\nA\r\n+LOCALPONG x\r\n');
    h.redisSends('$1\r\nB\r\n$1\r\nC\r\n'); // fast lane: two plain replies
    expect(h.toClient()).toBe('$1\r\nA\r\n+LOCALPONG x\r\n$1\r\nB\r\n$1\r\nC\r\n');
    expect(h.session.inFlight).toBe(0);
  });

  it('a reply chunk holding more frames than plain requests at the head takes the general path', async () => {
    const h = await sessionHarness({ middleware: [localAnswers] });
    h.clientSends(cmd('GET', 'a'));
    h.clientSends(cmd('HELLO', '3')); // watched by core: an entry, not a plain count
    h.redisSends('$1\r\nA\r\n%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n');
    expect(h.session.protocol).toBe(3);
    expect(h.session.inFlight).toBe(0);
  });
});
