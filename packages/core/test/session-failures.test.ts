import { NEVER, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Middleware, encodeCommand, encodeSimple, upstreamDialError } from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

describe('session: failures stay inside the session', () => {
  it('malformed input: earlier replies first, then -ERR Protocol error, then close', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('GET', 'k') + '*1\r\nfoo\r\n');
    expect(h.toRedis()).toBe(cmd('GET', 'k'));
    expect(h.client.ended).toBe(false);
    h.redisSends('$1\r\nv\r\n');
    expect(h.toClient()).toBe("$1\r\nv\r\n-ERR Protocol error: expected '$', got 'f'\r\n");
    expect(h.client.ended).toBe(true);
  });

  it('a middleware that throws closes only its session, with a clear error', async () => {
    const boom: Middleware = {
      name: 'boom',
      commands: ['BOOM'],
      requests: () => map((b) => {
        for (let i = 0; i < b.count; i++) if (b.frames[i]!.command === 'BOOM') throw new Error('kaboom');
        return b;
      }),
    };
    const a = await sessionHarness({ middleware: [boom] });
    const b = await sessionHarness({ middleware: [boom] });
    a.clientSends(cmd('BOOM'));
    expect(a.toClient()).toBe('-ERR slotrelay: internal error: kaboom\r\n');
    expect(a.client.ended).toBe(true);
    b.clientSends(cmd('PING'));
    b.redisSends('+PONG\r\n');
    expect(b.toClient()).toBe('+PONG\r\n');
  });

  it('a middleware that swallows a batch breaks the contract and closes the session', async () => {
    const dropper: Middleware = { name: 'dropper', batches: 'all', requests: () => () => NEVER };
    const h = await sessionHarness({ middleware: [dropper] });
    h.clientSends(cmd('PING'));
    expect(h.toClient()).toContain('did not pass the request batch on');
  });

  it('no Redis: requests get a clear error, local commands still work, then the session closes', async () => {
    const local: Middleware = {
      name: 'local',
      commands: ['LOCALPING'],
      requests: (s) => map((b) => {
        for (let i = 0; i < b.count; i++) if (b.frames[i]!.command === 'LOCALPING') s.answer(b.frames[i]!, encodeSimple('LOCAL'));
        return b;
      }),
    };
    const h = await sessionHarness({ middleware: [local], upstreamError: upstreamDialError('127.0.0.1:7001', 'ECONNREFUSED') });
    h.clientSends(cmd('LOCALPING'));
    expect(h.toClient()).toBe('+LOCAL\r\n');
    expect(h.client.ended).toBe(false);
    h.clientSends(cmd('GET', 'k'));
    // The reason, but never the Redis address: clients of the fleet only ever learn proxy addresses.
    expect(h.toClient()).toBe('+LOCAL\r\n-ERR slotrelay: cannot connect to Redis: ECONNREFUSED\r\n');
    expect(h.client.ended).toBe(true);
  });

  it('Redis closing mid-request answers what was in flight with an error', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('BLPOP', 'q', '0'));
    h.upstream.emit('close');
    expect(h.toClient()).toBe('-ERR slotrelay: connection to Redis lost\r\n');
    expect(h.client.ended).toBe(true);
  });
});

describe('session: bounded memory', () => {
  it('stops reading a client with more than maxInFlight requests unanswered, and reads it again as replies come', async () => {
    const h = await sessionHarness({ session: { maxInFlight: 4 } });
    const gets = (n: number, from = 0) => Array.from({ length: n }, (_, i) => cmd('GET', `k${from + i}`)).join('');
    h.clientSends(gets(3)); // plain requests, the fast lane
    expect(h.client.paused).toBe(false);
    h.clientSends(gets(3, 3)); // 6 in flight
    expect(h.client.paused).toBe(true);
    h.redisSends('$1\r\na\r\n'); // 5 left: still too many
    expect(h.client.paused).toBe(true);
    h.redisSends('$1\r\nb\r\n'); // 4: reading again
    expect(h.client.paused).toBe(false);
    // The same through the general path (a reply split across chunks).
    h.clientSends(gets(2, 6)); // 6 in flight
    expect(h.client.paused).toBe(true);
    h.redisSends('$1\r\nc');
    h.redisSends('\r\n$1\r\nd\r\n');
    expect(h.client.paused).toBe(false);
    h.redisSends('$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n');
    expect(h.toClient()).toBe(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((v) => `$1\r\n${v}\r\n`).join(''));
  });

  it('a client that stops reading while Redis sends 50 MB: the proxy stops reading Redis', async () => {
    const h = await sessionHarness({ clientCapacity: 256 * 1024 });
    h.clientSends(cmd('GET', 'big'));
    const size = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    h.redisSends(`$${size}\r\n`);
    let sent = 0;
    let maxBuffered = 0;
    while (sent < size) {
      // A real socket stops delivering once the session paused it; count how far Redis got.
      if (!h.upstream.receive(chunk)) break;
      sent += chunk.length;
      maxBuffered = Math.max(maxBuffered, h.session.bufferedBytes());
    }
    expect(h.upstream.paused).toBe(true);
    expect(sent).toBeLessThan(2 * 1024 * 1024);
    // Bound: the client socket's capacity plus one chunk plus the 64 KiB hold limit.
    expect(maxBuffered).toBeLessThan(256 * 1024 + 2 * 64 * 1024);
    // The client reads again: Redis is read again, and every byte arrives.
    let total = h.client.written().length;
    while (sent < size) {
      h.client.chunks.length = 0;
      h.client.drain();
      while (sent < size && h.upstream.receive(chunk.subarray(0, Math.min(chunk.length, size - sent)))) sent += Math.min(chunk.length, size - sent);
      total += h.client.written().length;
      maxBuffered = Math.max(maxBuffered, h.session.bufferedBytes());
    }
    h.client.chunks.length = 0;
    h.client.drain();
    h.redisSends('\r\n');
    total += h.client.written().length;
    expect(total).toBe(`$${size}\r\n`.length + size + 2);
    expect(maxBuffered).toBeLessThan(256 * 1024 + 2 * 64 * 1024);
  });

  it('a client that pipelines faster than Redis answers is paused once Redis stops reading', async () => {
    const h = await sessionHarness({ upstreamCapacity: 128 * 1024 });
    const req = Buffer.from(cmd('SET', 'k', 'x'.repeat(1000)));
    let n = 0;
    while (h.client.receive(req) && n < 100_000) n++;
    expect(h.client.paused).toBe(true);
    expect(n).toBeLessThan(200);
    h.upstream.drain();
    expect(h.client.paused).toBe(false);
  });
});

describe('session: malformed inline commands', () => {
  it('an inline watched command with unbalanced quotes gets -ERR Protocol error, not a crash', async () => {
    const h = await sessionHarness();
    h.clientSends('PING\r\nHELLO "3"x\r\nPING\r\n');
    expect(h.toRedis()).toBe('PING\r\n');
    h.redisSends('+PONG\r\n');
    expect(h.toClient()).toBe('+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n');
    expect(h.client.ended).toBe(true);
  });
});
