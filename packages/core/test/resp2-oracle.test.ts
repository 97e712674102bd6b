import { describe, expect, it } from 'vitest';
import RedisParser from 'redis-parser';
import { ReplyScanner, RespType, decodeReply, type RespNode } from '@slotrelay/core/internal';
import { prng, randomChunks } from '@slotrelay/testkit';

// redis-parser is the independent RESP2 oracle (DESIGN.md): our scanner + decoder and redis-parser
// must agree on every RESP2 input, however it is cut into chunks.

function genReply(rnd: () => number, depth = 0): string {
  const text = (max: number) => {
    const n = Math.floor(rnd() * max);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + Math.floor(rnd() * 95));
    return s;
  };
  const r = rnd();
  if (r < 0.15) return `+${text(20)}\r\n`;
  if (r < 0.25) return `-ERR ${text(30)}\r\n`;
  if (r < 0.4) return `:${Math.floor((rnd() - 0.5) * 1e12)}\r\n`;
  if (r < 0.45) return '$-1\r\n';
  if (r < 0.5) return '*-1\r\n';
  if (r < 0.75 || depth > 3) {
    // bulk payloads may hold CR, LF and any byte
    const n = Math.floor(rnd() * 40);
    let s = '';
    for (let i = 0; i < n; i++) s += rnd() < 0.1 ? '\r\n' : String.fromCharCode(0x20 + Math.floor(rnd() * 95));
    return `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;
  }
  const n = Math.floor(rnd() * 5);
  let s = `*${n}\r\n`;
  for (let i = 0; i < n; i++) s += genReply(rnd, depth + 1);
  return s;
}

function plain(n: RespNode): unknown {
  switch (n.type) {
    case RespType.SimpleString:
      return n.text;
    case RespType.Error:
      return { error: n.text };
    case RespType.Integer:
      return Number(n.text);
    case RespType.BulkString:
      return n.data === null ? null : n.data!.toString('latin1');
    default:
      return n.items === null ? null : n.items!.map(plain);
  }
}

function oracle(v: unknown): unknown {
  if (v instanceof Error) return { error: v.message };
  if (Array.isArray(v)) return v.map(oracle);
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  return v;
}

describe('RESP2 differential test against redis-parser', () => {
  it('decodes 10,000 random replies exactly as redis-parser does, in random chunks', () => {
    const rnd = prng(20261122);
    const frames: string[] = [];
    for (let i = 0; i < 10_000; i++) frames.push(genReply(rnd));
    const bytes = Buffer.from(frames.join(''), 'latin1');

    const expected: unknown[] = [];
    // Errors nested in arrays come back from redis-parser as ReplyError objects inside the array.
    const parser = new RedisParser({
      returnBuffers: true,
      returnReply: (r: unknown) => expected.push(oracle(r)),
      returnError: (e: Error) => expected.push({ error: e.message }),
      returnFatalError: (e: Error) => {
        throw e;
      },
    });
    for (const c of randomChunks(bytes, 1, 97)) parser.execute(c);

    const got: unknown[] = [];
    const scanner = new ReplyScanner();
    let held: Buffer[] = [];
    for (const c of randomChunks(bytes, 2, 113)) {
      scanner.feed(c);
      let prev = 0;
      for (let i = 0; i < scanner.count; i++) {
        const end = scanner.ends[i]!;
        const frame = i === 0 && held.length ? Buffer.concat([...held, c.subarray(0, end)]) : c.subarray(prev, end);
        held = [];
        got.push(plain(decodeReply(frame)));
        prev = end;
      }
      if (prev < c.length) held.push(c.subarray(prev));
    }
    expect(got.length).toBe(10_000);
    expect(got).toEqual(expected);
  });
});
