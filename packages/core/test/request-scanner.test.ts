import { describe, expect, it } from 'vitest';
import { CommandTable, INLINE, NO_REPLY, ProtocolError, RequestScanner } from '@slotrelay/core/internal';
import { chunkings } from '@slotrelay/testkit';

interface Case {
  name: string;
  frame: string;
  flags?: number;
  argc?: number;
  command?: string;
}

const cases: Case[] = [
  { name: 'PING', frame: '*1\r\n$4\r\nPING\r\n', argc: 1, command: 'PING' },
  { name: 'SET', frame: '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n', argc: 3, command: 'SET' },
  { name: 'empty argument', frame: '*2\r\n$4\r\nECHO\r\n$0\r\n\r\n', argc: 2, command: 'ECHO' },
  { name: 'inline command', frame: 'PING\r\n', flags: INLINE },
  { name: 'inline with quotes', frame: 'set k "hello world"\r\n', flags: INLINE },
  { name: 'inline with bare LF', frame: 'PING\n', flags: INLINE },
  { name: 'empty inline line', frame: '\r\n', flags: INLINE },
  { name: 'zero-length multibulk', frame: '*0\r\n', flags: NO_REPLY },
  { name: 'negative multibulk', frame: '*-10\r\n', flags: NO_REPLY },
  // string2ll's range: LLONG_MIN is a number, so Redis skips the header (ll <= 0) as for *-1.
  { name: 'LLONG_MIN multibulk', frame: '*-9223372036854775808\r\n', flags: NO_REPLY },
  // Redis skips the byte after a header's CR unchecked (qb_pos = newline + 2), and the 2 after a bulk.
  { name: 'a header CR followed by another byte', frame: '*1\rx$4\r-PING\r\n', argc: 1, command: 'PING' },
];

function scanAll(chunks: Buffer[]) {
  const s = new RequestScanner();
  const out: Array<{ end: number; flags: number; argc: number; nameOff: number; nameLen: number }> = [];
  let offset = 0;
  for (const c of chunks) {
    s.feed(c);
    for (let i = 0; i < s.count; i++) {
      out.push({
        end: offset + s.ends[i]!,
        flags: s.flags[i]!,
        argc: s.argcs[i]!,
        nameOff: s.nameOffs[i]!,
        nameLen: s.nameLens[i]!,
      });
    }
    offset += c.length;
  }
  return out;
}

describe('RequestScanner', () => {
  for (const c of cases) {
    it(`frames ${c.name}, whole, byte by byte and split at every boundary`, () => {
      const one = Buffer.from(c.frame, 'latin1');
      const bytes = Buffer.concat([one, one]);
      for (const { label, chunks } of chunkings(bytes)) {
        const r = scanAll(chunks);
        expect(
          r.map((x) => x.end),
          label,
        ).toEqual([one.length, 2 * one.length]);
        expect(r[1]!.flags, label).toBe(c.flags ?? 0);
        if (c.argc !== undefined) expect(r[1]!.argc, label).toBe(c.argc);
        if (c.command) {
          const f = r[1]!;
          const start = one.length;
          expect(bytes.toString('latin1', start + f.nameOff, start + f.nameOff + f.nameLen), label).toBe(c.command);
        }
      }
    });
  }

  // The error texts of Redis's own request parser (networking.c), so clients see what Redis would say.
  const bad: Array<[string, string, string]> = [
    ['a bulk without $', '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', "expected '$', got 'f'"],
    ['a non-numeric multibulk length', '*abc\r\n', 'invalid multibulk length'],
    ['an out of range multibulk length', '*20000000000\r\n', 'invalid multibulk length'],
    ['a negative bulk length', '*1\r\n$-1\r\n', 'invalid bulk length'],
    ['a non-numeric bulk length', '*1\r\n$x\r\n', 'invalid bulk length'],
    // string2ll (util.c): "-0", leading zeros, a '+', past LLONG_MIN are no numbers.
    ['a "-0" multibulk length', '*-0\r\n', 'invalid multibulk length'],
    ['a multibulk length with a leading zero', '*01\r\n$4\r\nPING\r\n', 'invalid multibulk length'],
    ['a multibulk length with a plus sign', '*+1\r\n$4\r\nPING\r\n', 'invalid multibulk length'],
    ['a multibulk length below LLONG_MIN', '*-9223372036854775809\r\n', 'invalid multibulk length'],
    ['a multibulk length of 20 digits', '*-10000000000000000000\r\n', 'invalid multibulk length'],
    ['a bulk length with a leading zero', '*1\r\n$04\r\nPING\r\n', 'invalid bulk length'],
    ['a "-0" bulk length', '*1\r\n$-0\r\n', 'invalid bulk length'],
    // Redis checks the '$' once the header line is whole, and quotes the raw byte, CR and LF as spaces.
    ['a control byte where $ belongs', '*1\r\n\x11\r\n', "expected '$', got '\x11'"],
    ['a high byte where $ belongs', '*1\r\n\xe9x\r\n', "expected '$', got '\xe9'"],
    ['a CR where $ belongs', '*1\r\n\r\n', "expected '$', got ' '"],
    ['an LF where $ belongs', '*1\r\n\n\r\n', "expected '$', got ' '"],
    ['a header CR followed by a digit', '*1\rc4\r\n', "expected '$', got '4'"],
  ];
  for (const [what, input, message] of bad) {
    it(`rejects ${what}: "${message}"`, () => {
      for (const { label, chunks } of chunkings(Buffer.from(input, 'latin1'))) {
        const s = new RequestScanner();
        expect(() => chunks.forEach((c) => s.feed(c)), label).toThrow(new ProtocolError(message));
      }
    });
  }

  // Where Redis has not seen the whole header line yet (no CR, or no byte after it), it waits: so
  // must the proxy, or it answers an error Redis would not (the client may still close first).
  const waits: Array<[string, string]> = [
    ['a bulk type byte alone', '*1\r\nX'],
    ['a bulk header without the byte after its CR', '*1\r\nX\r'],
    ['a multibulk header without the byte after its CR', '*abc\r'],
    ['a NUL in an inline line (strchr stops there: the line never ends)', 'A\0B\r\nPING\r\n'],
    ['a NUL in a multibulk header', '*1\0\r\n$4\r\nPING\r\n'],
    ['a NUL where $ belongs', '*1\r\n\0\r\n$4\r\nPING\r\n'],
  ];
  for (const [what, input] of waits) {
    it(`waits on ${what}`, () => {
      for (const { label, chunks } of chunkings(Buffer.from(input, 'latin1'))) {
        const s = new RequestScanner();
        let n = 0;
        for (const c of chunks) {
          s.feed(c);
          n += s.count;
        }
        expect(n, label).toBe(0);
        expect(s.inFrame, label).toBe(true);
      }
    });
  }

  it('limits a bulk to maxBulkBytes (512 MB by default)', () => {
    expect(() => new RequestScanner().feed(Buffer.from('*1\r\n$536870913\r\n'))).toThrow('invalid bulk length');
    const s = new RequestScanner();
    s.feed(Buffer.from('*1\r\n$536870912\r\n'));
    expect(s.inFrame).toBe(true);
  });

  it('limits an inline request to 64 KB', () => {
    const s = new RequestScanner();
    expect(() => s.feed(Buffer.alloc(70 * 1024, 0x61))).toThrow('too big inline request');
  });

  it('a line stuck at a NUL is too big past 64 KB, as Redis counts its buffer', () => {
    expect(() => new RequestScanner().feed(Buffer.concat([Buffer.from('A\0'), Buffer.alloc(70 * 1024, 0x0a)]))).toThrow(
      'too big inline request',
    );
    expect(() =>
      new RequestScanner().feed(Buffer.concat([Buffer.from('*1\0'), Buffer.alloc(70 * 1024, 0x0a)])),
    ).toThrow('too big mbulk count string');
    expect(() =>
      new RequestScanner().feed(Buffer.concat([Buffer.from('*1\r\n$\0'), Buffer.alloc(70 * 1024, 0x0a)])),
    ).toThrow('too big bulk count string');
  });

  it('limits a count header line to 64 KB', () => {
    expect(() => new RequestScanner().feed(Buffer.from('*' + '1'.repeat(70 * 1024)))).toThrow(
      'too big mbulk count string',
    );
  });

  it('limits the argument count to maxElements', () => {
    expect(() => new RequestScanner({ maxElements: 2 }).feed(Buffer.from('*3\r\n'))).toThrow(
      'invalid multibulk length',
    );
  });

  it('knows the command name of a frame in progress', () => {
    const s = new RequestScanner();
    s.feed(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc'));
    expect(s.inFrame).toBe(true);
    expect(s.curNameLen).toBe(3);
    expect(s.curArgc).toBe(3);
  });

  it('countPlain: whole requests none of whose names the watch table lists, in any case; else 0', () => {
    // countPlain drives the session's fast lane: a watched request counted plain would bypass its middleware.
    const s = new RequestScanner();
    s.watch = new CommandTable(['CLUSTER', 'GALLIUMDATA', 'HELLO', 'A', 'ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE']);
    const req = (name: string) => `*2\r\n$${name.length}\r\n${name}\r\n$1\r\nx\r\n`;
    const plain = [
      'GET',
      'SET',
      'CLUSTE',
      'CLUSTERS',
      'CLUSTEX',
      'B',
      'HELLo2',
      'ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF',
      'ABCDEFGHIJKLMNOPQRSTUVWXYZABCDX',
      '',
    ];
    const watched = [
      'CLUSTER',
      'cluster',
      'cLuStEr',
      'GalliumData',
      'hello',
      'a',
      'A',
      'abcdefghijklmnopqrstuvwxyzabcde',
    ];
    for (const name of plain) expect([name, s.countPlain(Buffer.from(req(name)))]).toEqual([name, 1]);
    for (const name of watched) expect([name, s.countPlain(Buffer.from(req(name)))]).toEqual([name, 0]);
    const all = plain.map(req).join('');
    expect(s.countPlain(Buffer.from(all))).toBe(plain.length);
    // One watched request anywhere, a split frame at the end, an inline command, *0: the general path.
    expect(s.countPlain(Buffer.from(all + req('hello')))).toBe(0);
    expect(s.countPlain(Buffer.from(req('hello') + all))).toBe(0);
    expect(s.countPlain(Buffer.from(all.slice(0, -1)))).toBe(0);
    expect(s.countPlain(Buffer.from(`${all}PING\r\n`))).toBe(0);
    expect(s.countPlain(Buffer.from(`${all}*0\r\n`))).toBe(0);
    expect(s.countPlain(Buffer.alloc(0))).toBe(0);
  });

  it('countPlain agrees with feed on 5,000 random chunks, valid and corrupted', () => {
    // countPlain has its own loop (the hottest of the proxy); whatever it accepts, feed must frame
    // the same way, and whatever is whole and unwatched it must accept.
    let seed = 11;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const table = new CommandTable(['CLUSTER', 'HELLO', 'MULTI']);
    const names = ['GET', 'SET', 'cluster', 'HELLO', 'hset', 'MULTI', 'x'.repeat(40), 'PING', 'EXPIRE'];
    const arg = () => (rand(4) === 0 ? 'v'.repeat(rand(300)) : 'k'.repeat(rand(12)));
    const request = () => {
      const args = [names[rand(names.length)]!, ...Array.from({ length: rand(4) }, arg)];
      return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
    };
    for (let i = 0; i < 5000; i++) {
      const frames = Array.from({ length: 1 + rand(5) }, request);
      let text = frames.join('');
      const mutated = rand(3) === 0;
      if (mutated) {
        const at = rand(text.length);
        text = rand(2) ? text.slice(0, at) : text.slice(0, at) + String.fromCharCode(rand(128)) + text.slice(at + 1);
      }
      const buf = Buffer.from(text, 'latin1');
      const s = new RequestScanner();
      s.watch = table;
      const n = s.countPlain(buf);
      let fed: RequestScanner | null = new RequestScanner();
      try {
        fed.feed(buf);
      } catch {
        fed = null;
      }
      if (n > 0) {
        expect(fed, text).not.toBeNull();
        expect([fed!.count, fed!.ends[n - 1], fed!.inFrame]).toEqual([n, buf.length, false]);
        for (let k = 0; k < n; k++) {
          expect(fed!.flags[k]).toBe(0);
          const start = k === 0 ? 0 : fed!.ends[k - 1]!;
          expect(table.match(buf, start + fed!.nameOffs[k]!, fed!.nameLens[k]!), text).toBeUndefined();
        }
      }
      const watched = frames.some((f) => /^\*\d+\r\n\$\d+\r\n(cluster|HELLO|MULTI)\r\n/.test(f));
      if (!mutated) expect(n, text).toBe(watched ? 0 : frames.length);
    }
  });

  it('countPlain changes no state, says 0 inside a frame, and leaves errors to feed', () => {
    const s = new RequestScanner({ maxBulkBytes: 10 });
    const get = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
    expect(s.countPlain(get)).toBe(1);
    s.feed(get.subarray(0, 7));
    expect(s.countPlain(get)).toBe(0); // mid-frame: only feed knows where the frame ends
    s.feed(get.subarray(7));
    expect([s.count, s.ends[0]]).toEqual([1, get.length - 7]);
    const tooBig = Buffer.from('*2\r\n$3\r\nSET\r\n$11\r\nhello world\r\n');
    expect(s.countPlain(tooBig)).toBe(0);
    expect(() => s.feed(tooBig)).toThrow('invalid bulk length');
  });
});
