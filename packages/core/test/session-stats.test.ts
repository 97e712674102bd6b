import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { encodeCommand, encodeSimple, type Middleware } from '@slotrelay/core';
import { LATENCY_SAMPLE_EVERY, newSessionStats, type SessionStats } from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

/** Answers LOCALPING locally. */
const local: Middleware = {
  name: 'local',
  commands: ['LOCALPING', 'BYE'],
  requests: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++) {
        const f = b.frames[i]!;
        if (f.command === 'LOCALPING') s.answer(f, encodeSimple('LOCAL'));
        if (f.command === 'BYE') s.close('bye');
      }
      return b;
    }),
};

const closedAs = (stats: SessionStats) => Object.fromEntries(stats.closed);

describe('session counters (SessionStats)', () => {
  it('a pipelined chunk of 1,000 SETs adds exactly 1,000 requests, and its replies 1,000 replies; bytes both ways', async () => {
    const stats = newSessionStats();
    const h = await sessionHarness({ session: { stats } });
    const requests = cmd('SET', 'k', 'v').repeat(1000);
    const replies = '+OK\r\n'.repeat(1000);
    h.clientSends(requests);
    expect(stats.requests).toBe(1000);
    h.redisSends(replies);
    expect(stats.replies).toBe(1000);
    expect(stats.bytesFromClients).toBe(requests.length);
    expect(stats.bytesToRedis).toBe(requests.length);
    expect(stats.bytesFromRedis).toBe(replies.length);
    expect(stats.bytesToClients).toBe(replies.length);
  });

  it('a request split over 3 chunks counts once, and so does its reply split over 3', async () => {
    const stats = newSessionStats();
    const h = await sessionHarness({ session: { stats } });
    const req = cmd('SET', 'key', 'value');
    h.clientSends(req.slice(0, 5), req.slice(5, 12), req.slice(12));
    expect(stats.requests).toBe(1);
    h.redisSends('$5\r', '\nval', 'ue\r\n');
    expect(stats.replies).toBe(1);
    expect(h.toClient()).toBe('$5\r\nvalue\r\n');
  });

  it('a request answered locally counts as a request and its answer as a reply', async () => {
    const stats = newSessionStats();
    const h = await sessionHarness({ middleware: [local], session: { stats } });
    h.clientSends(cmd('GET', 'a') + cmd('LOCALPING') + cmd('GET', 'b'));
    expect(stats.requests).toBe(3);
    h.redisSends('$1\r\nA\r\n$1\r\nB\r\n');
    expect(stats.replies).toBe(3);
    expect(h.toClient()).toBe('$1\r\nA\r\n+LOCAL\r\n$1\r\nB\r\n');
  });

  it('requests that expect no reply (CLIENT REPLY OFF) still count; an empty request does not', async () => {
    const stats = newSessionStats();
    const h = await sessionHarness({ session: { stats } });
    h.clientSends(cmd('CLIENT', 'REPLY', 'OFF') + cmd('SET', 'a', '1') + '*0\r\n');
    expect(stats.requests).toBe(2);
    expect(h.session.inFlight).toBe(0);
  });

  it('each close counts once, under its reason', async () => {
    const cases: Array<[string, (h: Awaited<ReturnType<typeof sessionHarness>>) => unknown]> = [
      ['quit', (h) => (h.clientSends(cmd('QUIT')), h.redisSends('+OK\r\n'))],
      ['client', (h) => h.client.emit('end')],
      ['client', (h) => h.client.emit('close')],
      ['protocol', (h) => h.clientSends('*1\r\n$x\r\n')],
      ['upstream', (h) => (h.clientSends(cmd('GET', 'k')), h.upstream.emit('close'))],
      ['shutdown', (h) => h.session.drain(1000)],
      ['error', (h) => h.clientSends(cmd('BYE'))],
    ];
    for (const [reason, act] of cases) {
      const stats = newSessionStats();
      const h = await sessionHarness({ middleware: [local], session: { stats } });
      void act(h);
      expect(h.session.isClosed, reason).toBe(true);
      expect(closedAs(stats), reason).toEqual({ [reason]: 1 });
      h.client.emit('close'); // counted once, whatever comes after
      expect(closedAs(stats), reason).toEqual({ [reason]: 1 });
    }
  });

  it('a protocol error counts in protocolErrors', async () => {
    const stats = newSessionStats();
    const h = await sessionHarness({ session: { stats } });
    h.clientSends('*1\r\n$x\r\n');
    expect(stats.protocolErrors).toBe(1);
  });

  it('latency: one session in LATENCY_SAMPLE_EVERY reports, once per request chunk, when the reply chunk completing it is written (a local answer at once)', async () => {
    const seen: number[][] = [];
    for (let i = 0; i < LATENCY_SAMPLE_EVERY; i++) {
      const observed: number[] = [];
      const stats = { ...newSessionStats(), observeLatency: (s: number) => observed.push(s) };
      const h = await sessionHarness({ middleware: [local], session: { stats } });
      h.clientSends(cmd('GET', 'a') + cmd('GET', 'b') + cmd('GET', 'c'), cmd('GET', 'd') + cmd('GET', 'e'));
      h.redisSends('$1\r\nA\r\n$1\r\nB\r\n');
      const afterTwo = observed.length;
      h.redisSends('$1\r\nC\r\n$1\r\nD\r\n');
      const afterFour = observed.length;
      h.redisSends('$1\r\nE\r\n');
      const afterFive = observed.length;
      h.clientSends(cmd('LOCALPING')); // answered locally: reported as its chunk is handled
      seen.push([h.session.id % LATENCY_SAMPLE_EVERY, afterTwo, afterFour, afterFive, observed.length]);
      expect(observed.every((s) => s >= 0)).toBe(true);
      h.client.emit('close');
    }
    const sampled = seen.filter(([rest]) => rest === 0);
    expect(sampled).toEqual([[0, 0, 1, 2, 3]]);
    expect(seen.filter(([rest]) => rest !== 0).every(([, ...counts]) => counts.every((n) => n === 0))).toBe(true);
  });
});
