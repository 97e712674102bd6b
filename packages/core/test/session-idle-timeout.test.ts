import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeCommand } from '@slotrelay/core';
import { IDLE_SWEEP_MS, newSessionStats } from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');
const TIMEOUT_MS = 1000;
/** Past this, an idle session must be closed: its timeout plus two sweeps (see `IDLE_SWEEP_MS`). */
const DEADLINE_MS = TIMEOUT_MS + 2 * IDLE_SWEEP_MS;

describe("idle timeout (Redis's `timeout`)", () => {
  // The harness waits on setImmediate: only the sweeper's clock is faked.
  beforeEach(() => vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  const harness = async (idleTimeoutMs = TIMEOUT_MS) => {
    const stats = newSessionStats();
    const h = await sessionHarness({ session: { stats, idleTimeoutMs } });
    return { ...h, stats };
  };

  it('a client that sends nothing is closed without a word once idle for the timeout, not before', async () => {
    const h = await harness();
    vi.advanceTimersByTime(TIMEOUT_MS - 1);
    expect(h.session.isClosed).toBe(false);
    vi.advanceTimersByTime(DEADLINE_MS - TIMEOUT_MS + 1);
    expect(h.session.isClosed).toBe(true);
    expect(h.toClient()).toBe('');
    expect(Object.fromEntries(h.stats.closed)).toEqual({ idle: 1 });
  });

  it('each request starts the idle time again', async () => {
    const h = await harness();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(TIMEOUT_MS / 2);
      h.clientSends(cmd('PING'));
      h.redisSends('+PONG\r\n');
    }
    expect(h.session.isClosed).toBe(false);
    vi.advanceTimersByTime(DEADLINE_MS);
    expect(h.session.isClosed).toBe(true);
  });

  it('a client blocked in BLPOP (a request in flight) is not closed; once answered, it is', async () => {
    const h = await harness();
    h.clientSends(cmd('BLPOP', 'k', '0'));
    vi.advanceTimersByTime(10 * DEADLINE_MS);
    expect(h.session.isClosed).toBe(false);
    h.redisSends('*2\r\n$1\r\nk\r\n$1\r\nv\r\n');
    vi.advanceTimersByTime(DEADLINE_MS);
    expect(h.session.isClosed).toBe(true);
  });

  it('a subscribed client (RESP2 or RESP3) and a MONITOR client are not closed', async () => {
    const sub = await harness();
    sub.clientSends(cmd('SUBSCRIBE', 'ch'));
    sub.redisSends('*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n');
    const sub3 = await harness();
    sub3.clientSends(cmd('HELLO', '3'));
    sub3.redisSends('%1\r\n+proto\r\n:3\r\n');
    sub3.clientSends(cmd('SUBSCRIBE', 'ch'));
    sub3.redisSends('>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n');
    const mon = await harness();
    mon.clientSends(cmd('MONITOR'));
    mon.redisSends('+OK\r\n');
    vi.advanceTimersByTime(10 * DEADLINE_MS);
    for (const h of [sub, sub3, mon]) {
      expect(h.session.isClosed).toBe(false);
      h.client.emit('close');
    }
  });

  it('no timeout (0) never closes; a timeout set on a running session applies to it, counting from its last request as in Redis', async () => {
    const h = await harness(0);
    vi.advanceTimersByTime(10 * DEADLINE_MS);
    expect(h.session.isClosed).toBe(false);
    h.clientSends(cmd('PING'));
    h.redisSends('+PONG\r\n');
    h.session.idleTimeoutMs = TIMEOUT_MS;
    vi.advanceTimersByTime(TIMEOUT_MS / 2);
    expect(h.session.isClosed).toBe(false);
    h.session.idleTimeoutMs = 0;
    vi.advanceTimersByTime(10 * DEADLINE_MS);
    expect(h.session.isClosed).toBe(false);
    h.session.idleTimeoutMs = TIMEOUT_MS; // idle far longer already: closed at the next sweeps
    vi.advanceTimersByTime(2 * IDLE_SWEEP_MS);
    expect(h.session.isClosed).toBe(true);
  });
});
