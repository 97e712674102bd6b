import fc from 'fast-check';

/**
 * fast-check arbitraries of client input for a Redis server: valid commands (multibulk and inline)
 * and every way of getting RESP wrong that a fuzzer should try — truncated frames, negative and
 * huge lengths, nested arrays, binary garbage, mutated commands, megabyte inline lines. Keys come
 * from `keys` only (slots the node under test serves, so no MOVED), and no command has a reply that
 * differs between two connections (no INFO, CLIENT LIST, TIME, MONITOR, CLUSTER NODES …) except
 * HELLO's client id, which `normalizeReply` masks.
 */
export function respInput(keys: readonly string[], opts: { megaLines: boolean }): fc.Arbitrary<Buffer> {
  const valid = command(keys);
  const multibulk = valid.map(encodeMultibulk);
  const inline = valid
    .filter((a) => a.every((x) => x.length > 0 && !/[\s"'\\]/.test(x.toString('latin1'))))
    .map((a) => encodeInline(a));
  const some = fc.oneof(multibulk, inline);
  const parts: Array<fc.WeightedArbitrary<Buffer>> = [
    { weight: 600, arbitrary: multibulk },
    { weight: 200, arbitrary: inline },
    { weight: 200, arbitrary: fc.tuple(some, fc.nat()).map(([b, n]) => b.subarray(0, n % Math.max(1, b.length))) },
    {
      weight: 300,
      arbitrary: fc
        .tuple(some, fc.array(mutation, { minLength: 1, maxLength: 3 }))
        .map(([b, ms]) => ms.reduce(mutate, b)),
    },
    { weight: 100, arbitrary: weirdNumber.map((n) => Buffer.from(`*${n}\r\n`, 'latin1')) },
    {
      weight: 100,
      arbitrary: fc
        .tuple(weirdNumber, fc.constantFrom(...keys))
        .map(([n, k]) => Buffer.from(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${n}\r\nvalue\r\n`, 'latin1')),
    },
    {
      weight: 60,
      arbitrary: fc
        .integer({ min: 2, max: 2000 })
        .map((d) => Buffer.from(`${'*1\r\n'.repeat(d)}$4\r\nPING\r\n`, 'latin1')),
    },
    { weight: 200, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
    {
      weight: 100,
      arbitrary: fc
        .constantFrom(
          '\r\n',
          '\n',
          '\r',
          '*0\r\n',
          '*-1\r\n',
          '*1\r\n$-1\r\n',
          '$4\r\nPING\r\n',
          '+PING\r\n',
          ':1\r\n',
          '*1\r\n$0\r\n\r\n',
          '"\r\n',
          '""\r\n',
          'PING "a\r\n',
          '*2\r\n$4\r\nECHO\r\n',
        )
        .map((s) => Buffer.from(s, 'latin1')),
    },
  ];
  // 1 MB inline lines (with and without an end of line): rare, they cost a megabyte each.
  if (opts.megaLines)
    parts.push({
      weight: 1,
      arbitrary: fc.boolean().map((eol) => Buffer.concat([Buffer.alloc(1 << 20, 'A'), Buffer.from(eol ? '\r\n' : '')])),
    });
  return fc.oneof(...parts);
}

/** A batch of inputs for one connection: the inputs (counted) and their bytes, sent together. */
export function respBatch(
  keys: readonly string[],
  opts: { megaLines: boolean; maxLength: number; size?: fc.SizeForArbitrary },
): fc.Arbitrary<Buffer[]> {
  return fc.array(respInput(keys, opts), { minLength: 1, maxLength: opts.maxLength, size: opts.size ?? 'small' });
}

/** Lengths a parser must reject or handle at its edges. */
const weirdNumber = fc.oneof(
  fc.constantFrom(
    '-1',
    '-2',
    '0',
    '1',
    '-9223372036854775808',
    '9223372036854775807',
    '9223372036854775808',
    '99999999999999999999',
    '1048576',
    '1048577',
    '536870912',
    '536870913',
    '2147483647',
    '2147483648',
    '4294967296',
    ' 1',
    '+1',
    '1 ',
    '0x10',
    '',
    'abc',
    '1.5',
    '00001',
    '-0',
  ),
  fc.integer().map(String),
);

const arg = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)),
  fc.integer({ min: -1000, max: 1000 }).map((n) => Buffer.from(String(n))),
);

/** Commands whose replies are the same on any two fresh connections (given the same keys' state). */
function command(keys: readonly string[]): fc.Arbitrary<Buffer[]> {
  const key = fc.constantFrom(...keys).map((k) => Buffer.from(k));
  const word = (...w: string[]) => fc.constant(w.map((x) => Buffer.from(x)));
  return fc.oneof(
    word('PING'),
    fc.tuple(fc.constant(Buffer.from('PING')), arg).map((a) => [...a]),
    fc.tuple(fc.constant(Buffer.from('ECHO')), arg).map((a) => [...a]),
    fc
      .tuple(
        fc.constantFrom('SET', 'APPEND', 'GETSET', 'SETNX').map((c) => Buffer.from(c)),
        key,
        arg,
      )
      .map((a) => [...a]),
    fc
      .tuple(
        fc.constantFrom('GET', 'DEL', 'EXISTS', 'STRLEN', 'INCR', 'TYPE', 'TTL').map((c) => Buffer.from(c)),
        key,
      )
      .map((a) => [...a]),
    fc
      .tuple(fc.constant(Buffer.from('MGET')), fc.array(key, { minLength: 1, maxLength: 3 }))
      .map(([c, ks]) => [c, ...ks]),
    word('MULTI'),
    word('EXEC'),
    word('DISCARD'),
    word('HELLO', '2'),
    word('HELLO', '3'),
    word('RESET'),
    word('CLIENT', 'REPLY', 'OFF'),
    word('CLIENT', 'REPLY', 'ON'),
    word('CLIENT', 'REPLY', 'SKIP'),
    word('SUBSCRIBE', 'chaos-fuzz'),
    word('UNSUBSCRIBE'),
    word('QUIT'),
    word('SELECT', '1'),
    word('READONLY'),
    fc.tuple(fc.constant(Buffer.from('CLUSTER')), fc.constant(Buffer.from('KEYSLOT')), arg).map((a) => [...a]),
    fc
      .tuple(
        fc.constantFrom('FOO', 'GET', 'SET', 'get', 'PiNg').map((c) => Buffer.from(c)),
        fc.array(arg, { maxLength: 4 }),
      )
      .map(([c, a]) => [c, ...a]),
  );
}

/** `*n\r\n$len\r\narg\r\n…` */
export function encodeMultibulk(args: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function encodeInline(args: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(args.map((a) => a.toString('latin1')).join(' '), 'latin1'), Buffer.from('\r\n')]);
}

type Mutation = readonly [position: number, byte: number, kind: 'flip' | 'insert' | 'delete'];
const mutation: fc.Arbitrary<Mutation> = fc.tuple(
  fc.nat(),
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const),
);

function mutate(b: Buffer, [pos, byte, kind]: Mutation): Buffer {
  const at = b.length === 0 ? 0 : pos % b.length;
  if (kind === 'insert') return Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]);
  if (b.length === 0) return b;
  if (kind === 'delete') return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
  const c = Buffer.from(b);
  c[at] = byte;
  return c;
}

/**
 * Mask what legitimately differs between two connections or between Redis and a proxy: the client
 * id in HELLO's reply, and the address in a MOVED/ASK redirect (the proxy rewrites it by design).
 */
export function normalizeReply(b: Buffer): string {
  return b
    .toString('latin1')
    .replace(/\$2\r\nid\r\n:\d+\r\n/g, '$2\r\nid\r\n:<id>\r\n')
    .replace(/-(MOVED|ASK) (\d+) \S+\r\n/g, '-$1 $2 <address>\r\n');
}

/** Bytes as a readable, bounded string for a report (`\r\n` and non-printables escaped). */
export function printable(b: Buffer | string, max = 200): string {
  const s = typeof b === 'string' ? b : b.toString('latin1');
  const cut = s.length > max ? `${s.slice(0, max)}…(${s.length} bytes)` : s;
  return JSON.stringify(cut)
    .slice(1, -1)
    .replace(/[\u007f-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
