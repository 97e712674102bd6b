import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Middleware, encodeCommand, encodeSimple } from '@slotrelay/core';
import { sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

/** Answers LOCALPING locally: its reply shows whether pairing put it in the right place. */
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

/** Marks GET requests and tags the replies it sees for them: shows which reply paired with which request. */
const tagger: Middleware = {
  name: 'tagger',
  commands: ['GET'],
  requests: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++)
        if (b.frames[i]!.command === 'GET') s.mark(b.frames[i]!, b.frames[i]!.args()[1]!.toString());
      return b;
    }),
  replies: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++) {
        const f = b.frames[i]!;
        const m = s.markOf(f);
        if (m !== undefined) f.replace(encodeSimple(`reply-to-${String(m)}`));
      }
      return b;
    }),
};

describe('session: request/reply pairing', () => {
  it('RESP2 pub/sub: messages and confirmations take no slot, PING in subscribed mode does', async () => {
    const h = await sessionHarness({ middleware: [local] });
    h.clientSends(cmd('SUBSCRIBE', 'a', 'b') + cmd('LOCALPING'));
    h.redisSends('*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n');
    expect(h.toClient()).not.toContain('+LOCAL'); // still one confirmation to go
    h.redisSends('*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n');
    expect(h.toClient().endsWith(':2\r\n+LOCAL\r\n')).toBe(true);
    h.clientSends(cmd('PING') + cmd('LOCALPING'));
    h.redisSends('*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n'); // out of band
    expect(h.toClient().endsWith('$2\r\nhi\r\n')).toBe(true);
    h.redisSends('*2\r\n$4\r\npong\r\n$0\r\n\r\n');
    expect(h.toClient().endsWith('*2\r\n$4\r\npong\r\n$0\r\n\r\n+LOCAL\r\n')).toBe(true);
  });

  it('RESP2: UNSUBSCRIBE without channels expects one confirmation per subscribed channel', async () => {
    const h = await sessionHarness({ middleware: [local, tagger] });
    h.clientSends(cmd('SUBSCRIBE', 'a', 'b'));
    h.redisSends('*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n');
    h.clientSends(cmd('UNSUBSCRIBE') + cmd('LOCALPING') + cmd('GET', 'k'));
    h.redisSends('*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n');
    expect(h.toClient()).not.toContain('+LOCAL');
    h.redisSends('*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n');
    expect(h.toClient().endsWith(':0\r\n+LOCAL\r\n')).toBe(true);
    // Out of subscribed mode, an array reply is an ordinary reply again.
    h.redisSends('$1\r\nv\r\n');
    expect(h.toClient().endsWith('+reply-to-k\r\n')).toBe(true);
  });

  it('RESP3: push frames interleaved with replies take no slot', async () => {
    const h = await sessionHarness({ middleware: [tagger] });
    h.clientSends(cmd('HELLO', '3'));
    h.redisSends('%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n');
    expect(h.session.protocol).toBe(3);
    h.clientSends(cmd('SUBSCRIBE', 'c') + cmd('GET', 'x'));
    h.redisSends('>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n$1\r\nV\r\n');
    expect(h.toClient().endsWith('$1\r\nm\r\n+reply-to-x\r\n')).toBe(true);
  });

  it('an error to SSUBSCRIBE (MOVED) consumes its slot', async () => {
    const h = await sessionHarness({ middleware: [tagger] });
    h.clientSends(cmd('SSUBSCRIBE', 'ch') + cmd('GET', 'k'));
    h.redisSends('-MOVED 1 127.0.0.1:7000\r\n$1\r\nv\r\n');
    expect(h.toClient()).toBe('-MOVED 1 127.0.0.1:7000\r\n+reply-to-k\r\n');
  });

  it('CLIENT REPLY OFF / SKIP expect no reply', async () => {
    const h = await sessionHarness({ middleware: [tagger] });
    h.clientSends(
      cmd('CLIENT', 'REPLY', 'OFF') + cmd('SET', 'a', '1') + cmd('CLIENT', 'REPLY', 'ON') + cmd('GET', 'a'),
    );
    h.redisSends('+OK\r\n$1\r\n1\r\n');
    expect(h.toClient()).toBe('+OK\r\n+reply-to-a\r\n');
    h.clientSends(cmd('CLIENT', 'REPLY', 'SKIP') + cmd('SET', 'b', '2') + cmd('GET', 'b'));
    h.redisSends('$1\r\n2\r\n');
    expect(h.toClient().endsWith('+reply-to-b\r\n')).toBe(true);
  });

  it('MONITOR lines take no slot', async () => {
    const h = await sessionHarness({ middleware: [local] });
    h.clientSends(cmd('MONITOR'));
    h.redisSends('+OK\r\n+1700000000.123456 [0 127.0.0.1:5000] "get" "k"\r\n');
    h.clientSends(cmd('LOCALPING'));
    expect(h.toClient().endsWith('"k"\r\n+LOCAL\r\n')).toBe(true);
  });

  it('empty requests (*0, blank inline lines) expect no reply', async () => {
    const h = await sessionHarness({ middleware: [local] });
    h.clientSends('*0\r\n\r\n' + cmd('LOCALPING'));
    expect(h.toClient()).toBe('+LOCAL\r\n');
  });

  it('MULTI/EXEC: the EXEC array is one reply', async () => {
    const h = await sessionHarness({ middleware: [tagger] });
    h.clientSends(cmd('MULTI') + cmd('SET', 'a', '1') + cmd('EXEC') + cmd('GET', 'a'));
    expect(h.session.inTransaction).toBe(false);
    h.redisSends('+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n$1\r\n1\r\n');
    expect(h.toClient()).toBe('+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n+reply-to-a\r\n');
  });

  it('a marked reply is held whole even when it is larger than the hold limit', async () => {
    const h = await sessionHarness({ middleware: [tagger], session: { holdLimit: 16 } });
    h.clientSends(cmd('GET', 'big'));
    const value = 'v'.repeat(1000);
    const reply = `$${value.length}\r\n${value}\r\n`;
    for (let i = 0; i < reply.length; i += 100) h.redisSends(reply.slice(i, i + 100));
    expect(h.toClient()).toBe('+reply-to-big\r\n');
  });
});

describe('session: transactions', () => {
  it('gives each queued command its index in the EXEC array', async () => {
    const seen: Array<[string, number]> = [];
    const spy: Middleware = {
      name: 'spy',
      commands: ['MULTI', 'EXEC', 'GET', 'SET'],
      requests: () =>
        map((b) => {
          for (let i = 0; i < b.count; i++) seen.push([b.frames[i]!.commandName(), b.frames[i]!.txIndex]);
          return b;
        }),
    };
    const h = await sessionHarness({ middleware: [spy] });
    h.clientSends(cmd('GET', 'a') + cmd('MULTI') + cmd('SET', 'a', '1') + cmd('CLIENT', 'REPLY', 'OFF'));
    h.clientSends(cmd('GET', 'a') + cmd('CLIENT', 'REPLY', 'ON') + cmd('EXEC') + cmd('GET', 'a'));
    expect(seen.filter(([n]) => n !== 'CLIENT')).toEqual([
      ['GET', -1],
      ['MULTI', -1],
      ['SET', 0],
      ['GET', 2],
      ['EXEC', -1],
      ['GET', -1],
    ]);
  });
});

describe('pipeline: batches nobody needs skip the operators', () => {
  it('a request batch without a watched command never reaches the middleware', async () => {
    let calls = 0;
    const counter: Middleware = { name: 'counter', commands: ['LOCALPING'], requests: () => map((b) => (calls++, b)) };
    const h = await sessionHarness({ middleware: [counter] });
    h.clientSends(cmd('GET', 'k'));
    expect(calls).toBe(0);
    expect(h.toRedis()).toBe(cmd('GET', 'k'));
    h.clientSends(cmd('GET', 'k') + cmd('LOCALPING'));
    expect(calls).toBe(1);
  });

  it("a middleware with batches: 'all' sees every batch", async () => {
    let calls = 0;
    const audit: Middleware = {
      name: 'audit',
      batches: 'all',
      requests: () => map((b) => (calls++, b)),
      replies: () => map((b) => (calls++, b)),
    };
    const h = await sessionHarness({ middleware: [audit] });
    h.clientSends(cmd('GET', 'k'));
    h.redisSends('$-1\r\n');
    expect(calls).toBe(2);
  });
});
