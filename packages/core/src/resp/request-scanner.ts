import { ProtocolError } from '../errors.js';
import { DEFAULT_LIMITS, type RespLimits } from './constants.js';
import { lengthEnd, parsed } from './length.js';

const TOO_BIG_INLINE = 'too big inline request';

/** Request flag: Redis sends no reply to this frame (`*0`, `*-1`, an empty inline line). */
export const NO_REPLY = 1;
/** Request flag: an inline command (a text line) rather than an array of bulk strings. */
export const INLINE = 2;

const R_START = 0;
const R_INLINE = 1;
const R_MB_NUM = 2;
const R_MB_LF = 3;
const R_BULK_TYPE = 4;
const R_BULK_NUM = 5;
const R_BULK_LF = 6;
const R_BODY = 7;
/** After a NUL inside a line: Redis's `strchr` stops there, so the line never ends (see `feed`). */
const R_STUCK = 8;

/** `string2ll`'s bound for a negative number, digit by digit: -9223372036854775808 is LLONG_MIN. */
const LLONG_MIN_DIGITS = [9, 2, 2, 3, 3, 7, 2, 0, 3, 6, 8, 5, 4, 7, 7, 5, 8, 0, 8];

/** The output arrays before the first frame (never written: every write grows them first). */
const NO_I32 = new Int32Array(0);
const NO_U8 = new Uint8Array(0);

/**
 * Finds where each client request ends without decoding it: arrays of bulk strings
 * (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline commands (`GET k\r\n`), with the checks and error
 * texts of Redis's own request parser (`processMultibulkBuffer`, `processInlineBuffer`).
 *
 * Per completed frame it records where it ends, its flags (`NO_REPLY`, `INLINE`), its argument count
 * (multibulk only) and where the command name lies relative to the frame start (multibulk only;
 * -1 for inline), so a caller can match the name without allocating. While `inFrame`, the `cur*` fields describe the frame in
 * progress (`curNameLen >= 0` once its name is complete).
 */
export class RequestScanner {
  // What the fast lane reads first (`countPlain`), declared together so they share a cache line.
  private state = R_START;
  /** Names whose requests are not plain for `countPlain` (set by the session: everything core or a middleware watches). */
  watch: { readonly maybe: Uint8Array; match(buf: Uint8Array, off: number, len: number): string | undefined } | null =
    null;
  private readonly maxElements: number;
  private readonly maxBulkBytes: number;
  /** What the last successful `wholeMultibulk` found: argument count, name offset (from the frame start) and length. */
  private wmArgc = 0;
  private wmNameOff = 0;
  private wmNameLen = 0;

  count = 0;
  // Empty until the first frame (every write checks `ends.length` first): an idle session's scanner
  // holds no arrays of its own.
  ends = NO_I32;
  flags = NO_U8;
  argcs = NO_I32;
  nameOffs = NO_I32;
  nameLens = NO_I32;
  inFrame = false;
  /** Bytes of the frame in progress so far. */
  curBytes = 0;
  curArgc = 0;
  curNameOff = 0;
  curNameLen = -1;

  private num = 0;
  private neg = false;
  private digits = 0;
  /** The line is not a number by `string2ll`'s rules (a stray byte, a leading zero, a lone '-'). */
  private notNum = false;
  /** A 19-digit negative number compared with LLONG_MIN so far: <0 less, 0 equal, >0 greater. */
  private cmpMin = 0;
  /** The byte where a bulk header's '$' should be (checked once its line is whole, as Redis does). */
  private typeByte = 0;
  /** What a line stuck at a NUL is reported as once it passes the inline limit. */
  private stuckError = '';
  private lineBytes = 0;
  private argIndex = 0;
  private remaining = 0;
  /** Absolute stream offset of `pos` 0 in the current feed, and of the frame start. */
  private base = 0;
  private frameStart = 0;
  private readonly limits: RespLimits;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.maxElements = this.limits.maxElements;
    this.maxBulkBytes = this.limits.maxBulkBytes;
  }

  /** Bytes the frame in progress still needs at least: the rest of the bulk string being read. */
  get curNeeds(): number {
    return this.state === R_BODY ? this.remaining : 0;
  }

  /** True while the frame in progress is an inline command line. */
  get curInline(): boolean {
    return this.state === R_INLINE || (this.state === R_STUCK && this.stuckError === TOO_BIG_INLINE);
  }

  /**
   * The fast lane's question, asked before `feed` and changing no state: if `buf` holds exactly one
   * or more whole multibulk requests (between frames, within the limits) and the `watch` table lists
   * none of their names, how many; otherwise 0, and the caller feeds the chunk as usual.
   */
  countPlain(buf: Uint8Array): number {
    if (this.state !== R_START) return 0;
    const end = buf.length;
    const w = this.watch;
    let pos = 0;
    let n = 0;
    while (pos < end) {
      if (buf[pos] !== 0x2a) return 0;
      const next = this.wholeMultibulk(buf, pos, end);
      if (next < 0) return 0;
      const len = this.wmNameLen;
      const at = pos + this.wmNameOff;
      // Names of 1–31 bytes may be watched: one typed-array read rules most out before matching.
      if (
        w !== null &&
        len > 0 &&
        len < 32 &&
        w.maybe[(len << 5) | (buf[at]! & 0x1f)] !== 0 &&
        w.match(buf, at, len) !== undefined
      )
        return 0;
      pos = next;
      n++;
    }
    return n;
  }

  /** Scan `buf[pos, end)`. Throws `ProtocolError` with Redis's message on malformed input. */
  feed(buf: Uint8Array, pos = 0, end = buf.length): void {
    this.count = 0;
    const base = this.base - pos;
    let state = this.state;
    while (pos < end) {
      switch (state) {
        case R_START: {
          // Fast path: a whole multibulk request inside this chunk, parsed with locals only.
          if (buf[pos] === 0x2a) {
            const next = this.wholeMultibulk(buf, pos, end);
            if (next > 0) {
              const i = this.count;
              if (i === this.ends.length) this.grow();
              this.ends[i] = next;
              this.flags[i] = 0;
              this.argcs[i] = this.wmArgc;
              this.nameOffs[i] = this.wmNameOff;
              this.nameLens[i] = this.wmNameLen;
              this.count = i + 1;
              pos = next;
              break;
            }
          }
          this.frameStart = base + pos;
          this.inFrame = true;
          this.curNameLen = -1;
          this.curArgc = 0;
          if (buf[pos] === 0x2a) {
            pos++;
            state = R_MB_NUM;
            this.beginNum();
          } else {
            state = R_INLINE;
            this.lineBytes = 0;
          }
          break;
        }
        case R_INLINE: {
          // Redis finds the end of the line with strchr: a NUL stops it, and the line never ends.
          const start = pos;
          let c = 0;
          while (pos < end && (c = buf[pos]!) !== 10 && c !== 0) pos++;
          this.lineBytes += pos - start;
          if (pos < end && c === 0) {
            state = this.stick(TOO_BIG_INLINE);
            break;
          }
          if (pos === end) {
            if (this.lineBytes > this.limits.maxInlineBytes) throw new ProtocolError(TOO_BIG_INLINE);
            break;
          }
          pos++;
          // The name of an inline command is found by the caller from the whole line.
          this.curNameOff = -1;
          this.curNameLen = -1;
          this.complete(pos, INLINE, 0);
          state = R_START;
          break;
        }
        case R_STUCK: {
          // Redis waits for the rest of a line that cannot end, until the client closes or its
          // buffer passes the inline limit: the same here.
          this.lineBytes += end - pos;
          pos = end;
          if (this.lineBytes > this.limits.maxInlineBytes) throw new ProtocolError(this.stuckError);
          break;
        }
        case R_MB_NUM:
        case R_BULK_NUM: {
          const c = buf[pos++]!;
          if (c === 13) {
            state = state === R_MB_NUM ? R_MB_LF : R_BULK_LF;
            break;
          }
          if (c === 0) {
            state = this.stick(state === R_MB_NUM ? 'too big mbulk count string' : 'too big bulk count string');
            this.lineBytes++;
            break;
          }
          this.numByte(c);
          if (++this.lineBytes > this.limits.maxInlineBytes) {
            throw new ProtocolError(state === R_MB_NUM ? 'too big mbulk count string' : 'too big bulk count string');
          }
          break;
        }
        case R_MB_LF: {
          // Redis skips the byte after the CR unchecked (qb_pos = newline + 2), and so must the
          // proxy: framing the bytes it forwards as Redis does keeps replies paired.
          pos++;
          if (!this.isNum()) throw new ProtocolError('invalid multibulk length');
          const n = this.neg ? -this.num : this.num;
          if (n > this.limits.maxElements) throw new ProtocolError('invalid multibulk length');
          if (n <= 0) {
            this.complete(pos, NO_REPLY, 0);
            state = R_START;
          } else {
            this.curArgc = n;
            this.argIndex = 0;
            state = R_BULK_TYPE;
          }
          break;
        }
        case R_BULK_TYPE: {
          // Like Redis, the '$' is checked once the header line is whole (CR and one more byte).
          const c = buf[pos++]!;
          this.beginNum();
          this.typeByte = c;
          if (c === 13) {
            state = R_BULK_LF;
          } else {
            this.lineBytes = 1;
            state = c === 0 ? this.stick('too big bulk count string') : R_BULK_NUM;
          }
          break;
        }
        case R_BULK_LF: {
          pos++;
          const t = this.typeByte;
          if (t !== 0x24)
            throw new ProtocolError(`expected '$', got '${String.fromCharCode(t === 13 || t === 10 ? 32 : t)}'`);
          if (!this.isNum() || this.neg) throw new ProtocolError('invalid bulk length');
          if (this.num > this.limits.maxBulkBytes) throw new ProtocolError('invalid bulk length');
          if (this.argIndex === 0) this.curNameOff = base + pos - this.frameStart;
          this.remaining = this.num + 2;
          state = R_BODY;
          break;
        }
        case R_BODY: {
          const avail = end - pos;
          if (avail < this.remaining) {
            this.remaining -= avail;
            pos = end;
            break;
          }
          pos += this.remaining;
          if (this.argIndex === 0) this.curNameLen = this.num;
          if (++this.argIndex === this.curArgc) {
            this.complete(pos, 0, this.curArgc);
            state = R_START;
          } else {
            state = R_BULK_TYPE;
          }
          break;
        }
      }
    }
    this.state = state;
    this.base = base + end;
    this.curBytes = this.inFrame ? this.base - this.frameStart : 0;
  }

  /**
   * Parse one multibulk frame that lies entirely in `buf[pos, end)`: returns where it ends (its
   * argument count and name in `wm*`), or -1 to let the byte-by-byte state machine handle it (split
   * frames, anything unusual, every error — so the error texts stay in one place).
   */
  private wholeMultibulk(buf: Uint8Array, pos: number, end: number): number {
    let cr = lengthEnd(buf, pos + 1, end, 10);
    if (cr < 0 || buf[cr + 1] !== 10) return -1;
    const n = parsed.length;
    if (n <= 0 || n > this.maxElements) return -1;
    let p = cr + 2;
    let nameOff = 0;
    let nameLen = 0;
    const maxBulk = this.maxBulkBytes;
    for (let k = 0; k < n; k++) {
      if (buf[p] !== 0x24) return -1;
      cr = lengthEnd(buf, p + 1, end, 10);
      if (cr < 0 || buf[cr + 1] !== 10) return -1;
      const len = parsed.length;
      if (len > maxBulk) return -1;
      p = cr + 2;
      if (k === 0) {
        nameOff = p - pos;
        nameLen = len;
      }
      p += len + 2;
      if (p > end) return -1;
    }
    this.wmArgc = n;
    this.wmNameOff = nameOff;
    this.wmNameLen = nameLen;
    return p;
  }

  private beginNum(): void {
    this.num = 0;
    this.neg = false;
    this.digits = 0;
    this.notNum = false;
    this.cmpMin = 0;
    this.lineBytes = 0;
  }

  /**
   * One byte of a count or length line, checked by `string2ll`'s rules (util.c): an optional '-',
   * then "0" alone or a first digit 1–9, digits only, fewer than 21 bytes in all, within long long.
   */
  private numByte(c: number): void {
    if (this.notNum) return;
    if (c === 0x2d && this.digits === 0 && !this.neg) {
      this.neg = true;
      return;
    }
    if (c < 48 || c > 57 || (this.digits === 1 && this.num === 0) || (c === 48 && this.digits === 0 && this.neg)) {
      this.notNum = true; // reported once the line ends, as Redis does
      return;
    }
    const k = this.digits++;
    if (k >= 19) {
      this.notNum = true; // 20 digits: beyond long long, or (positive) beyond every limit anyway
      return;
    }
    if (this.cmpMin === 0) this.cmpMin = c - 48 - LLONG_MIN_DIGITS[k]!;
    this.num = this.num * 10 + (c - 48);
  }

  /** The line just ended holds a number `string2ll` accepts. */
  private isNum(): boolean {
    if (this.notNum || this.digits === 0) return false;
    // 19 digits: beyond LLONG_MAX when positive (then beyond every limit: rejected by the caller's
    // range check, as `num` is huge), beyond LLONG_MIN when negative and greater than its digits.
    return !(this.neg && this.digits === 19 && this.cmpMin > 0);
  }

  /** A NUL in a line: nothing completes until the client closes or `maxInlineBytes` is passed. */
  private stick(error: string): number {
    this.stuckError = error;
    return R_STUCK;
  }

  private complete(pos: number, flags: number, argc: number): void {
    const i = this.count;
    if (i === this.ends.length) this.grow();
    this.ends[i] = pos;
    this.flags[i] = flags;
    this.argcs[i] = argc;
    this.nameOffs[i] = this.curNameOff;
    this.nameLens[i] = this.curNameLen;
    this.count = i + 1;
    this.inFrame = false;
  }

  private grow(): void {
    const n = Math.max(16, this.ends.length * 2);
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.ends = g32(this.ends);
    this.argcs = g32(this.argcs);
    this.nameOffs = g32(this.nameOffs);
    this.nameLens = g32(this.nameLens);
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
  }
}
