import { ProtocolError } from '../errors.js';

/**
 * Splits one inline command line into its arguments exactly as Redis 7.0 does
 * (`processInlineBuffer` then `sdssplitargs`, src/networking.c and src/sds.c), so the proxy
 * recognises `"cluster" nodes` or `"\x63luster" nodes` as the CLUSTER NODES it is.
 *
 * `buf[start, end)` is the line as the request scanner frames it: a final `\n`, and a `\r` before
 * it, are dropped as Redis drops them. The rules, checked against redis-server
 * (test/e2e/inline-args-match-redis.test.ts):
 * - blanks between arguments are C `isspace` bytes (space, `\t \n \v \f \r`), but an unquoted
 *   argument ends only at space, `\t`, `\n`, `\r` — so `a\vb` is one argument;
 * - "double quotes" decode `\xHH` (two hex digits) and `\n \r \t \b \a`; any other escaped byte
 *   stands for itself (`\"`, `\\`, `\q` → `q`);
 * - 'single quotes' decode only `\'`;
 * - a quote may open in the middle of an argument (`a"b c"` is `ab c`); a closing quote must be
 *   followed by a blank or the end of the line;
 * - a NUL byte ends the line (Redis works on C strings; its `strchr` for the newline stops there
 *   too, so Redis never runs such a line at all).
 *
 * An unterminated quote, or a closing quote followed by another byte, throws
 * `ProtocolError('unbalanced quotes in request')`, the text Redis replies before it closes the
 * connection. An empty or blank line gives no arguments (Redis sends no reply). Arguments without
 * quotes are views into `buf`; quoted ones are new buffers.
 */
export function splitInlineArgs(buf: Buffer, start = 0, end = buf.length): Buffer[] {
  if (end > start && buf[end - 1] === LF) end--;
  if (end > start && buf[end - 1] === CR) end--;
  const nul = buf.indexOf(0, start);
  if (nul >= 0 && nul < end) end = nul;
  const args: Buffer[] = [];
  let p = start;
  while (true) {
    while (p < end && isBlank(buf[p]!)) p++;
    if (p === end) return args;
    const from = p;
    while (p < end && !endsWord(buf[p]!) && buf[p] !== DQ && buf[p] !== SQ) p++;
    if (p === end || endsWord(buf[p]!)) {
      args.push(buf.subarray(from, p));
      continue;
    }
    // A quote: decode this argument byte by byte.
    const out: number[] = [];
    for (let i = from; i < p; i++) out.push(buf[i]!);
    p = quotedWord(buf, p, end, out);
    args.push(Buffer.from(out));
  }
}

const LF = 0x0a;
const CR = 0x0d;
const DQ = 0x22;
const SQ = 0x27;
const BACKSLASH = 0x5c;

/** C `isspace` in the C locale: skipped between arguments. */
function isBlank(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** The bytes that end an unquoted argument in `sdssplitargs` (`\v` and `\f` do not). */
function endsWord(c: number): boolean {
  return c === 0x20 || c === LF || c === CR || c === 0x09;
}

/** Decodes from `p` (a byte of the argument, a quote at first) to the argument's end; returns where it ended. */
function quotedWord(buf: Buffer, p: number, end: number, out: number[]): number {
  let inDq = false;
  let inSq = false;
  while (true) {
    if (inDq) {
      if (p === end) throw unbalanced();
      const c = buf[p]!;
      if (c === BACKSLASH && p + 3 < end && buf[p + 1] === 0x78 && isHex(buf[p + 2]!) && isHex(buf[p + 3]!)) {
        out.push(hexValue(buf[p + 2]!) * 16 + hexValue(buf[p + 3]!));
        p += 4;
      } else if (c === BACKSLASH && p + 1 < end) {
        out.push(unescape(buf[p + 1]!));
        p += 2;
      } else if (c === DQ) {
        p++;
        if (p < end && !isBlank(buf[p]!)) throw unbalanced();
        return p;
      } else {
        out.push(c);
        p++;
      }
    } else if (inSq) {
      if (p === end) throw unbalanced();
      const c = buf[p]!;
      if (c === BACKSLASH && p + 1 < end && buf[p + 1] === SQ) {
        out.push(SQ);
        p += 2;
      } else if (c === SQ) {
        p++;
        if (p < end && !isBlank(buf[p]!)) throw unbalanced();
        return p;
      } else {
        out.push(c);
        p++;
      }
    } else {
      if (p === end) return p;
      const c = buf[p]!;
      if (endsWord(c)) return p;
      if (c === DQ) inDq = true;
      else if (c === SQ) inSq = true;
      else out.push(c);
      p++;
    }
  }
}

function unescape(c: number): number {
  switch (c) {
    case 0x6e:
      return 0x0a; // \n
    case 0x72:
      return 0x0d; // \r
    case 0x74:
      return 0x09; // \t
    case 0x62:
      return 0x08; // \b
    case 0x61:
      return 0x07; // \a
    default:
      return c;
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

function unbalanced(): ProtocolError {
  return new ProtocolError('unbalanced quotes in request');
}
