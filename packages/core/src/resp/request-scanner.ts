import { ProtocolError } from '../errors.js';
import { DEFAULT_LIMITS, type RespLimits } from './constants.js';
import { lengthEnd, parsed } from './length.js';
import { describeByte } from './reply-scanner.js';

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
  watch: { readonly maybe: Uint8Array; match(buf: Uint8Array, off: number, len: number): string | undefined } | null = null;
  private readonly maxElements: number;
  private readonly maxBulkBytes: number;
  /** What the last successful `wholeMultibulk` found: argument count, name offset (from the frame start) and length. */
  private wmArgc = 0;
  private wmNameOff = 0;
  private wmNameLen = 0;

  count = 0;
  ends = new Int32Array(16);
  flags = new Uint8Array(16);
  argcs = new Int32Array(16);
  nameOffs = new Int32Array(16);
  nameLens = new Int32Array(16);
  inFrame = false;
  /** Bytes of the frame in progress so far. */
  curBytes = 0;
  curArgc = 0;
  curNameOff = 0;
  curNameLen = -1;

  private num = 0;
  private neg = false;
  private digits = 0;
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
    return this.state === R_INLINE;
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
      if (w !== null && len > 0 && len < 32 && w.maybe[(len << 5) | (buf[at]! & 0x1f)] !== 0 && w.match(buf, at, len) !== undefined) return 0;
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
          const start = pos;
          while (pos < end && buf[pos] !== 10) pos++;
          this.lineBytes += pos - start;
          if (pos === end) {
            if (this.lineBytes > this.limits.maxInlineBytes) throw new ProtocolError('too big inline request');
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
        case R_MB_NUM:
        case R_BULK_NUM: {
          const c = buf[pos++]!;
          if (c >= 48 && c <= 57) {
            this.num = this.num * 10 + (c - 48);
            this.digits++;
          } else if (c === 13) {
            state = state === R_MB_NUM ? R_MB_LF : R_BULK_LF;
            break;
          } else if (c === 0x2d && this.digits === 0 && !this.neg) {
            this.neg = true;
          } else {
            this.digits = 99; // not a number: reported once the line ends, as Redis does
          }
          if (++this.lineBytes > this.limits.maxInlineBytes) {
            throw new ProtocolError(state === R_MB_NUM ? 'too big mbulk count string' : 'too big bulk count string');
          }
          break;
        }
        case R_MB_LF: {
          if (buf[pos++] !== 10) throw new ProtocolError('invalid multibulk length');
          if (this.digits === 0 || this.digits > 18) throw new ProtocolError('invalid multibulk length');
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
          const c = buf[pos++]!;
          if (c !== 0x24) throw new ProtocolError(`expected '$', got ${describeByte(c)}`);
          state = R_BULK_NUM;
          this.beginNum();
          break;
        }
        case R_BULK_LF: {
          if (buf[pos++] !== 10) throw new ProtocolError('invalid bulk length');
          if (this.digits === 0 || this.digits > 18 || this.neg) throw new ProtocolError('invalid bulk length');
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
    this.lineBytes = 0;
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
    const n = this.ends.length * 2;
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
