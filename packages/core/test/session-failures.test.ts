import { NEVER, map } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import {
  CLOSE_GRACE_MS,
  ErrorCode,
  type Middleware,
  NOT_ENOUGH_MEMBERS,
  SlotrelayError,
  encodeCommand,
  encodeSimple,
  upstreamDialError,
} from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

const thrower: Middleware = {
  name: 'boom',
  commands: ['BOOM'],
  requests: () =>
    map((b) => {
      for (let i = 0; i < b.count; i++) if (b.frames[i]!.command === 'BOOM') throw new Error('kaboom');
      return b;
    }),
};

const closer: Middleware = {
  name: 'closer',
  commands: ['BYE'],
  requests: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++) if (b.frames[i]!.command === 'BYE') s.close('bye');
      return b;
    }),
};

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
      requests: () =>
        map((b) => {
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

  it('Redis unreachable: local commands still work, the first request for Redis closes the session without a reply', async () => {
    const local: Middleware = {
      name: 'local',
      commands: ['LOCALPING'],
      requests: (s) =>
        map((b) => {
          for (let i = 0; i < b.count; i++)
            if (b.frames[i]!.command === 'LOCALPING') s.answer(b.frames[i]!, encodeSimple('LOCAL'));
          return b;
        }),
    };
    const h = await sessionHarness({
      middleware: [local],
      upstreamError: upstreamDialError('127.0.0.1:7001', 'ECONNREFUSED'),
    });
    h.clientSends(cmd('LOCALPING'));
    expect(h.toClient()).toBe('+LOCAL\r\n');
    expect(h.client.ended).toBe(false);
    // An -ERR would be taken for GET's answer; a closed connection is what cluster clients retry.
    // Nothing after the first request for Redis is served, not even a local command.
    h.clientSends(cmd('LOCALPING') + cmd('GET', 'k') + cmd('LOCALPING'));
    expect(h.toClient()).toBe('+LOCAL\r\n+LOCAL\r\n');
    expect(h.client.ended).toBe(true);
  });

  it('Redis unreachable while requests wait for the dial: replies due first, then the session closes without a reply', async () => {
    const local: Middleware = {
      name: 'local',
      commands: ['LOCALPING'],
      requests: (s) =>
        map((b) => {
          for (let i = 0; i < b.count; i++)
            if (b.frames[i]!.command === 'LOCALPING') s.answer(b.frames[i]!, encodeSimple('LOCAL'));
          return b;
        }),
    };
    let fail!: (e: Error) => void;
    const h = await sessionHarness({ middleware: [local], connect: new Promise((_, reject) => (fail = reject)) });
    h.clientSends(cmd('LOCALPING') + cmd('GET', 'k'));
    fail(upstreamDialError('127.0.0.1:7001', 'ECONNREFUSED'));
    await h.settle();
    expect(h.toClient()).toBe('+LOCAL\r\n');
    expect(h.client.ended).toBe(true);
  });

  it('too few cluster members is a config state, not a dead node: requests still get the clear error', async () => {
    const err = new SlotrelayError(ErrorCode.NotEnoughMembers, `${NOT_ENOUGH_MEMBERS}: …`, NOT_ENOUGH_MEMBERS);
    const h = await sessionHarness({ upstreamError: err });
    h.clientSends(cmd('GET', 'k'));
    expect(h.toClient()).toBe(`-ERR ${NOT_ENOUGH_MEMBERS}\r\n`);
    expect(h.client.ended).toBe(true);
  });

  it('Redis closing mid-request: replies due are delivered, the rest get none, both sockets close', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('GET', 'a') + cmd('BLPOP', 'q', '0') + cmd('GET', 'b'));
    h.redisSends('$1\r\nv\r\n');
    h.upstream.emit('close');
    expect(h.toClient()).toBe('$1\r\nv\r\n');
    expect(h.client.ended).toBe(true);
    expect(h.upstream.destroyed).toBe(true);
  });

  it("Redis's own protocol error then its close: the client gets exactly that error, no reply for what it pipelined after", async () => {
    // An unwatched inline command goes to Redis as it is; Redis finds the unbalanced quote, answers
    // and closes. Before, the proxy added "-ERR slotrelay: connection to Redis lost" for each of the
    // three requests behind it.
    const h = await sessionHarness();
    h.clientSends('set "a b\r\n' + cmd('GET', 'k').repeat(3));
    h.redisSends('-ERR Protocol error: unbalanced quotes in request\r\n');
    h.upstream.emit('close');
    expect(h.toClient()).toBe('-ERR Protocol error: unbalanced quotes in request\r\n');
    expect(h.client.ended).toBe(true);
  });
});

describe('session: a closing session leaves nothing half-open', () => {
  it('after a protocol error: Redis is destroyed, the client is read again to see its FIN, then destroyed', async () => {
    const h = await sessionHarness();
    h.clientSends('*1\r\n$x\r\n');
    expect(h.toClient()).toBe('-ERR Protocol error: invalid bulk length\r\n');
    expect(h.client.ended).toBe(true);
    expect(h.upstream.destroyed).toBe(true);
    // Paused, the client's FIN would never be read and the socket would stay half-open.
    expect(h.client.paused).toBe(false);
    h.clientSends('GET k\r\n'); // what a client sends after the error is read and dropped
    expect(h.toRedis()).toBe('');
    expect(h.client.destroyed).toBe(false);
    h.client.emit('end');
    expect(h.client.destroyed).toBe(true);
  });

  it('a client that neither reads nor closes is destroyed after CLOSE_GRACE_MS', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const h = await sessionHarness({ middleware: [closer] });
      h.clientSends(cmd('BYE'));
      expect(h.toClient()).toBe('-ERR bye\r\n');
      expect(h.client.ended).toBe(true);
      expect(h.upstream.destroyed).toBe(true);
      vi.advanceTimersByTime(CLOSE_GRACE_MS - 1);
      expect(h.client.destroyed).toBe(false);
      vi.advanceTimersByTime(1);
      expect(h.client.destroyed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a middleware exception: the error, then the same close', async () => {
    const h = await sessionHarness({ middleware: [thrower] });
    h.clientSends(cmd('BOOM'));
    expect(h.toClient()).toBe('-ERR slotrelay: internal error: kaboom\r\n');
    expect(h.upstream.destroyed).toBe(true);
    expect(h.client.paused).toBe(false);
    h.client.emit('end');
    expect(h.client.destroyed).toBe(true);
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
      while (sent < size && h.upstream.receive(chunk.subarray(0, Math.min(chunk.length, size - sent))))
        sent += Math.min(chunk.length, size - sent);
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

  it('a watched request declared larger than maxWholeFrameBytes is refused as soon as it passes the hold limit, and nothing stays held', async () => {
    const h = await sessionHarness({ session: { maxWholeFrameBytes: 1024 * 1024 } });
    h.clientSends(`*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$${2 * 1024 * 1024}\r\n`); // core watches CLIENT
    const piece = Buffer.alloc(16 * 1024, 0x61);
    for (let sent = 0; sent <= 64 * 1024; sent += piece.length) h.clientSends(piece);
    // Refused on the declared length, 80 KiB in: not after holding the whole 2 MB (or the cap's 1 MB).
    expect(h.toClient()).toBe('-ERR Protocol error: command too large for the proxy to hold (max 1048576 bytes)\r\n');
    expect(h.toRedis()).toBe('');
    expect(h.session.bufferedBytes()).toBeLessThan(1024); // the error line in the client socket, no held request
    expect(h.client.ended).toBe(true);
  });

  it('a watched request of many small arguments is refused once what it holds passes maxWholeFrameBytes', async () => {
    const h = await sessionHarness({ session: { maxWholeFrameBytes: 256 * 1024 } });
    const arg = cmd('x'.repeat(1000)).slice('*1\r\n'.length);
    h.clientSends('*100000\r\n$6\r\nCLIENT\r\n');
    let n = 0;
    while (h.toClient() === '' && n < 1000) {
      h.clientSends(arg.repeat(16));
      n++;
    }
    expect(h.toClient()).toBe('-ERR Protocol error: command too large for the proxy to hold (max 262144 bytes)\r\n');
    expect(n * 16 * arg.length).toBeLessThan(256 * 1024 + 16 * arg.length + 1);
    expect(h.session.bufferedBytes()).toBeLessThan(1024); // the error line in the client socket, no held request
  });

  it('an unwatched request larger than maxWholeFrameBytes is streamed, not capped', async () => {
    const h = await sessionHarness({ session: { maxWholeFrameBytes: 128 * 1024 } });
    const value = 'v'.repeat(512 * 1024);
    const set = cmd('SET', 'k', value);
    for (let i = 0; i < set.length; i += 16 * 1024) h.clientSends(set.slice(i, i + 16 * 1024));
    expect(h.toRedis()).toBe(set);
    h.redisSends('+OK\r\n');
    expect(h.toClient()).toBe('+OK\r\n');
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
