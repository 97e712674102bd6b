import { describe, expect, it } from 'vitest';
import { runMiddleware } from '@slotrelay/testkit';
import maskValues, { parseOptions } from '../src/index.js';

const config = { patterns: ['user:*:ssn', 'card:?'], mask: '****', exemptUsers: ['auditor'] };
const run = (clientSends: string[][], redisReplies: string[]) =>
  runMiddleware(maskValues, { config, clientSends, redisReplies });
const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;

describe('mask-values: replies of masked keys', () => {
  it('a pipeline of reads, RESP2: each reply masked exactly where its key matches', async () => {
    const r = await run(
      [
        ['GET', 'user:1:ssn'],
        ['GET', 'user:1:name'],
        ['MGET', 'user:1:ssn', 'x', 'card:7'],
        ['HGETALL', 'user:2:ssn'],
        ['HMGET', 'card:1', 'a', 'b'],
        ['HVALS', 'card:2'],
        ['GETRANGE', 'user:3:ssn', '0', '2'],
        ['GET', 'user:4:ssn'],
      ],
      [
        bulk('123-45'),
        bulk('Ann'),
        `*3\r\n${bulk('1')}${bulk('2')}$-1\r\n`,
        `*4\r\n${bulk('a')}${bulk('1')}${bulk('b')}${bulk('2')}`,
        `*2\r\n${bulk('x')}$-1\r\n`,
        `*1\r\n${bulk('v')}`,
        bulk('123'),
        '$-1\r\n',
      ],
    );
    expect(r.clientReceived).toEqual([
      '****',
      'Ann',
      ['****', '2', null],
      ['a', '****', 'b', '****'],
      ['****', null],
      ['****'],
      '****',
      null,
    ]);
  });

  it('RESP3: a map keeps its fields and only its values are masked; a null stays a null', async () => {
    const r = await run(
      [
        ['HELLO', '3'],
        ['HGETALL', 'user:1:ssn'],
        ['GET', 'user:1:ssn'],
        ['GET', 'user:2:ssn'],
      ],
      [
        '%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n',
        `%2\r\n${bulk('f')}${bulk('1')}${bulk('g')}${bulk('2')}`,
        bulk('9'),
        '_\r\n',
      ],
    );
    expect(r.clientReceived).toEqual([{ map: ['server', 'redis'] }, { map: ['f', '****', 'g', '****'] }, '****', null]);
  });

  it('an exempt user sees values once its AUTH (or HELLO AUTH) succeeded; a failed AUTH or RESET keeps masks', async () => {
    const r = await run(
      [
        ['GET', 'user:1:ssn'],
        ['AUTH', 'auditor', 'bad'],
        ['GET', 'user:1:ssn'],
        ['AUTH', 'auditor', 'pw'],
        ['GET', 'user:1:ssn'],
        ['RESET'],
        ['GET', 'user:1:ssn'],
        ['HELLO', '2', 'AUTH', 'auditor', 'pw'],
        ['GET', 'user:1:ssn'],
      ],
      [
        bulk('s1'),
        '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
        bulk('s2'),
        '+OK\r\n',
        bulk('s3'),
        '+RESET\r\n',
        bulk('s4'),
        '*2\r\n$6\r\nserver\r\n$5\r\nredis\r\n',
        bulk('s5'),
      ],
    );
    expect(r.clientReceived).toEqual([
      '****',
      { error: 'WRONGPASS invalid username-password pair or user is disabled.' },
      '****',
      'OK',
      's3',
      'RESET',
      '****',
      ['server', 'redis'],
      's5',
    ]);
  });

  it('other reads of a masked key are refused and never reach Redis; SET without GET and unmasked keys pass', async () => {
    const r = await run(
      [
        ['SORT', 'user:1:ssn'],
        ['SET', 'user:1:ssn', 'v', 'GET'],
        ['EVAL', 'return 1', '2', 'a', 'card:1'],
        ['SET', 'user:1:ssn', 'v'],
        ['DUMP', 'plain'],
      ],
      ['+OK\r\n', bulk('dump')],
    );
    const refused = (cmd: string, key: string) => ({
      error: `NOPERM slotrelay mask-values: '${cmd}' would reveal the masked key '${key}'`,
    });
    expect(r.redisReceived).toEqual([
      ['SET', 'user:1:ssn', 'v'],
      ['DUMP', 'plain'],
    ]);
    expect(r.clientReceived).toEqual([
      refused('sort', 'user:1:ssn'),
      refused('set', 'user:1:ssn'),
      refused('eval', 'card:1'),
      'OK',
      'dump',
    ]);
  });
});

describe('mask-values: MULTI/EXEC', () => {
  it("EXEC's array is masked at each masked command's txIndex", async () => {
    const r = await run(
      [
        ['MULTI'],
        ['GET', 'user:1:ssn'],
        ['GET', 'plain'],
        ['INCR', 'n'],
        ['HGETALL', 'card:1'],
        ['EXEC'],
        ['GET', 'plain'],
      ],
      [
        '+OK\r\n',
        '+QUEUED\r\n',
        '+QUEUED\r\n',
        '+QUEUED\r\n',
        '+QUEUED\r\n',
        `*4\r\n${bulk('s')}${bulk('p')}:1\r\n*2\r\n${bulk('f')}${bulk('v')}`,
        bulk('p'),
      ],
    );
    expect(r.clientReceived).toEqual([
      'OK',
      'QUEUED',
      'QUEUED',
      'QUEUED',
      'QUEUED',
      ['****', 'p', 1, ['f', '****']],
      'p',
    ]);
  });

  it('a refused read inside MULTI makes Redis abort EXEC, and DISCARD forgets what was queued', async () => {
    const r = await run(
      [
        ['MULTI'],
        ['GET', 'user:1:ssn'],
        ['DISCARD'],
        ['MULTI'],
        ['DUMP', 'user:1:ssn'],
        ['EXEC'],
        ['MULTI'],
        ['GET', 'plain'],
        ['EXEC'],
      ],
      [
        '+OK\r\n',
        '+QUEUED\r\n',
        '+OK\r\n',
        '+OK\r\n',
        "-ERR unknown command 'SLOTRELAY-MASK-VALUES-REFUSED'\r\n",
        '-EXECABORT Transaction discarded because of previous errors.\r\n',
        '+OK\r\n',
        '+QUEUED\r\n',
        `*1\r\n${bulk('p')}`,
      ],
    );
    expect(r.redisReceived[4]).toEqual(['SLOTRELAY-MASK-VALUES-REFUSED']);
    expect(r.clientReceived).toEqual([
      'OK',
      'QUEUED',
      'OK',
      'OK',
      { error: "NOPERM slotrelay mask-values: 'dump' would reveal the masked key 'user:1:ssn'" },
      { error: 'EXECABORT Transaction discarded because of previous errors.' },
      'OK',
      'QUEUED',
      ['p'],
    ]);
  });
});

describe('mask-values settings', () => {
  it('a wrong setting is refused naming it', () => {
    expect(() => parseOptions({})).toThrow(
      'mask-values: patterns should be an array of strings, instead got undefined',
    );
    expect(() => parseOptions({ patterns: [], mask: 1 })).toThrow(
      'mask-values: mask should be a string, instead got 1',
    );
  });

  it('globs match whole keys; regex characters in a pattern are literal', () => {
    const o = parseOptions({ patterns: ['a.b*', 'c?'] });
    expect(['a.bx', 'a.b', 'c1'].map(o.matches)).toEqual([true, true, true]);
    expect(['axb', 'xa.b', 'c12'].map(o.matches)).toEqual([false, false, false]);
  });
});
