import { describe, expect, it } from 'vitest';
import {
  HAS_ATTRIBUTE,
  NESTED_ERROR,
  ProtocolError,
  ReplyScanner,
  RespType,
  decodeReply,
  encodeReply,
  toPlain,
} from '@slotrelay/core/internal';
import { chunkings } from '@slotrelay/testkit';

interface Case {
  name: string;
  frame: string;
  type?: string;
  flags?: number;
  plain?: unknown;
}

// Every RESP2 and RESP3 reply type, with the value decodeReply must give back.
const cases: Case[] = [
  { name: 'simple string', frame: '+OK\r\n', plain: 'OK' },
  { name: 'error', frame: '-MOVED 3999 127.0.0.1:6381\r\n', plain: 'MOVED 3999 127.0.0.1:6381' },
  { name: 'integer', frame: ':1000\r\n', plain: 1000 },
  { name: 'negative integer', frame: ':-1\r\n', plain: -1 },
  { name: 'bulk string', frame: '$5\r\nhello\r\n', plain: 'hello' },
  { name: 'empty bulk string', frame: '$0\r\n\r\n', plain: '' },
  { name: 'null bulk string', frame: '$-1\r\n', plain: null },
  { name: 'bulk holding CRLF', frame: '$6\r\na\r\nb\r\n\r\n', plain: 'a\r\nb\r\n' },
  { name: 'array', frame: '*2\r\n$3\r\nfoo\r\n:1\r\n', plain: ['foo', 1] },
  { name: 'empty array', frame: '*0\r\n', plain: [] },
  { name: 'null array', frame: '*-1\r\n', plain: null },
  {
    name: 'nested arrays',
    frame: '*3\r\n*1\r\n+a\r\n*0\r\n*2\r\n*1\r\n:7\r\n$-1\r\n',
    plain: [['a'], [], [[7], null]],
  },
  { name: 'RESP3 null', frame: '_\r\n', plain: null },
  { name: 'double', frame: ',3.14\r\n', plain: 3.14 },
  { name: 'double inf', frame: ',inf\r\n', plain: Infinity },
  { name: 'boolean', frame: '#t\r\n', plain: true },
  {
    name: 'big number',
    frame: '(3492890328409238509324850943850943825024385\r\n',
    plain: '3492890328409238509324850943850943825024385',
  },
  { name: 'verbatim string', frame: '=15\r\ntxt:Some string\r\n', plain: 'Some string' },
  { name: 'blob error', frame: '!21\r\nSYNTAX invalid syntax\r\n', plain: 'SYNTAX invalid syntax' },
  { name: 'map', frame: '%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n', plain: { first: 1, second: 2 } },
  { name: 'empty map', frame: '%0\r\n', plain: {} },
  { name: 'set', frame: '~2\r\n+a\r\n+b\r\n', plain: ['a', 'b'] },
  { name: 'push', frame: '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n', plain: ['message', 'ch', 'hi'] },
  {
    name: 'attribute before a reply',
    frame: '|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n',
    type: '*',
    flags: HAS_ATTRIBUTE,
    plain: [2039123, 9543892],
  },
  { name: 'attribute inside an array', frame: '*2\r\n|1\r\n+ttl\r\n:3600\r\n+a\r\n+b\r\n', plain: ['a', 'b'] },
  {
    name: 'error inside an EXEC array',
    frame: '*2\r\n+OK\r\n-MOVED 1 127.100.0.1:7000\r\n',
    flags: NESTED_ERROR,
    plain: ['OK', 'MOVED 1 127.100.0.1:7000'],
  },
  { name: 'map of sets', frame: '%1\r\n$1\r\nk\r\n~1\r\n(12\r\n', plain: { k: ['12'] } },
];

function scanAll(chunks: Buffer[]) {
  const s = new ReplyScanner();
  const ends: number[] = [];
  const types: number[] = [];
  const flags: number[] = [];
  let offset = 0;
  for (const c of chunks) {
    s.feed(c);
    for (let i = 0; i < s.count; i++) {
      ends.push(offset + s.ends[i]!);
      types.push(s.types[i]!);
      flags.push(s.flags[i]!);
    }
    offset += c.length;
  }
  return { ends, types, flags, inFrame: s.inFrame };
}

describe('ReplyScanner', () => {
  for (const c of cases) {
    it(`finds the end of a ${c.name}, whole, byte by byte and split at every boundary`, () => {
      // Two copies back to back: the scanner must also find where the second one starts.
      const one = Buffer.from(c.frame, 'latin1');
      const bytes = Buffer.concat([one, one]);
      for (const { label, chunks } of chunkings(bytes)) {
        const r = scanAll(chunks);
        expect(r.ends, label).toEqual([one.length, 2 * one.length]);
        expect(String.fromCharCode(r.types[0]!), label).toBe(c.type ?? c.frame[0]);
        expect(r.flags[0], label).toBe(c.flags ?? 0);
        expect(r.inFrame, label).toBe(false);
      }
    });

    it(`decodes a ${c.name} and encodes it back byte for byte`, () => {
      const one = Buffer.from(c.frame, 'latin1');
      const node = decodeReply(one);
      expect(toPlain(node)).toEqual(c.plain);
      expect(encodeReply(node).toString('latin1')).toBe(c.frame);
    });
  }

  it('reports a frame in progress', () => {
    const s = new ReplyScanner();
    s.feed(Buffer.from('*2\r\n$3\r\nfo'));
    expect(s.count).toBe(0);
    expect(s.inFrame).toBe(true);
    expect(String.fromCharCode(s.frameType)).toBe('*');
  });

  const bad: Array<[string, string]> = [
    ['an unknown type byte', '?x\r\n'],
    ['a non-numeric length', '$abc\r\n'],
    ['a negative bulk length', '$-2\r\n'],
    ['a negative array length', '*-2\r\n'],
    ['a missing length', '*\r\n'],
    ['CR without LF', '$3\rxfoo\r\n'],
  ];
  for (const [what, input] of bad) {
    it(`rejects ${what} with a ProtocolError`, () => {
      expect(() => new ReplyScanner().feed(Buffer.from(input))).toThrow(ProtocolError);
    });
  }

  it('enforces the bulk length limit', () => {
    const s = new ReplyScanner({ maxBulkBytes: 10 });
    s.feed(Buffer.from('$10\r\n0123456789\r\n'));
    expect(s.count).toBe(1);
    expect(() => s.feed(Buffer.from('$11\r\n'))).toThrow('invalid bulk length');
  });

  it('enforces the element count limit', () => {
    expect(() => new ReplyScanner({ maxElements: 3 }).feed(Buffer.from('*4\r\n'))).toThrow('invalid multibulk length');
  });

  it('enforces the nesting limit', () => {
    expect(() => new ReplyScanner({ maxDepth: 2 }).feed(Buffer.from('*1\r\n*1\r\n*1\r\n:1\r\n'))).toThrow(
      'nested too deeply',
    );
  });

  it('skips a large bulk payload without looking at it', () => {
    const payload = Buffer.alloc(5_000_000, 0x2a); // '*' bytes would break a scanner that looked inside
    const frame = Buffer.concat([Buffer.from(`$${payload.length}\r\n`), payload, Buffer.from('\r\n+OK\r\n')]);
    const r = scanAll([frame.subarray(0, 1000), frame.subarray(1000, 3_000_000), frame.subarray(3_000_000)]);
    expect(r.ends).toEqual([frame.length - 5, frame.length]);
  });
});

describe('ReplyScanner.countPlain (the fast lane)', () => {
  // Frames the fast lane takes, and frames it must never take: an error anywhere (a MOVED to
  // rewrite) or a push (out of band, no reply) would then skip the middleware and the FIFO rules.
  const lane = [
    '+OK\r\n',
    ':1000\r\n',
    '$5\r\nhello\r\n',
    '$0\r\n\r\n',
    '*2\r\n$3\r\nfoo\r\n:1\r\n',
    '*0\r\n',
    '~2\r\n+a\r\n+b\r\n',
    '_\r\n',
    ',3.14\r\n',
    '#t\r\n',
    // RESP2 nulls: a GET or MGET of a missing key, an EXEC aborted by WATCH.
    '$-1\r\n',
    '*-1\r\n',
    '*3\r\n$1\r\na\r\n$-1\r\n$1\r\nb\r\n',
  ];
  const never = [
    '-MOVED 3999 127.0.0.1:6381\r\n',
    '-ERR x\r\n',
    '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n',
    '*2\r\n+OK\r\n-MOVED 1 127.100.0.1:7000\r\n',
    '~1\r\n-ERR x\r\n',
  ];

  it('counts whole plain replies, and says 0 when any frame is an error, holds one, or is a push', () => {
    const s = new ReplyScanner();
    expect(s.countPlain(Buffer.from(lane.join('')))).toBe(lane.length);
    for (const bad of never) {
      expect([bad, s.countPlain(Buffer.from(bad))]).toEqual([bad, 0]);
      expect([bad, s.countPlain(Buffer.from(lane.join('') + bad))]).toEqual([bad, 0]);
      expect([bad, s.countPlain(Buffer.from(bad + lane.join('')))]).toEqual([bad, 0]);
    }
    expect(s.countPlain(Buffer.from('+OK\r\n$5\r\nhel'))).toBe(0); // a split frame: the general path
    expect(s.countPlain(Buffer.alloc(0))).toBe(0);
    for (const odd of ['$-1\r\n'.slice(0, 4), '$-2\r\n', '*-12\r\n', '$-1\rx'])
      expect([odd, s.countPlain(Buffer.from(odd))]).toEqual([odd, 0]);
  });

  it('changes no state and says 0 while a frame is in progress', () => {
    const s = new ReplyScanner();
    s.feed(Buffer.from('*2\r\n$3\r\nfo'));
    expect(s.countPlain(Buffer.from('+OK\r\n'))).toBe(0);
    s.feed(Buffer.from('o\r\n:1\r\n'));
    expect([s.count, s.ends[0], s.inFrame]).toEqual([1, 7, false]);
    expect(s.countPlain(Buffer.from('+OK\r\n'))).toBe(1);
  });

  it('agrees with feed on 2,000 random chunks of every reply type', () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const all = [...cases.map((c) => c.frame), ...never];
    for (let i = 0; i < 2000; i++) {
      const frames = Array.from({ length: 1 + rand(6) }, () =>
        rand(2) ? lane[rand(lane.length)]! : all[rand(all.length)]!,
      );
      const buf = Buffer.from(frames.join(''), 'latin1');
      const n = new ReplyScanner().countPlain(buf);
      const s = new ReplyScanner();
      s.feed(buf);
      if (n > 0) {
        expect(n).toBe(s.count);
        for (let k = 0; k < n; k++) {
          expect(s.flags[k]).toBe(0);
          expect([RespType.Error, RespType.Push]).not.toContain(s.types[k]);
        }
      }
      if (frames.every((f) => lane.includes(f))) expect(n).toBe(frames.length);
      if (frames.some((f) => never.includes(f))) expect(n).toBe(0);
    }
  });
});

describe('ReplyScanner nesting', () => {
  it('finds the end of a reply nested 40 levels deep (the stack grows)', () => {
    const deep = '*2\r\n'.repeat(40) + ':1\r\n:2\r\n' + ':1\r\n'.repeat(39) + '+after\r\n';
    const bytes = Buffer.from(deep);
    for (const { label, chunks } of chunkings(bytes)) {
      const r = scanAll(chunks);
      expect(r.ends, label).toEqual([bytes.length - 8, bytes.length]);
    }
  });
});
