import { ProtocolError } from '../errors.js';
import { DEFAULT_LIMITS, type RespLimits } from './constants.js';
import { lengthEnd, parsed } from './length.js';

/** Frame flag: an error element (`-`) sits somewhere inside this aggregate frame. */
export const NESTED_ERROR = 1;
/** Frame flag: the frame starts with a RESP3 attribute (`|`); `type` is the type of the value after it. */
export const HAS_ATTRIBUTE = 2;

const S_TYPE = 0;
const S_NUM = 1;
const S_NUM_LF = 2;
const S_BODY = 3;
const S_LINE = 4;

const PLUS = 0x2b,
  MINUS = 0x2d,
  COLON = 0x3a,
  DOLLAR = 0x24,
  STAR = 0x2a,
  UNDERSCORE = 0x5f,
  COMMA = 0x2c,
  HASH = 0x23,
  LPAREN = 0x28,
  EQUALS = 0x3d,
  BANG = 0x21,
  PERCENT = 0x25,
  TILDE = 0x7e,
  GT = 0x3e,
  PIPE = 0x7c;

/** The output arrays before the first frame (never written: every write grows them first). */
const NO_I32 = new Int32Array(0);
const NO_U8 = new Uint8Array(0);

/**
 * Finds where each RESP2/RESP3 reply frame ends without decoding it.
 *
 * Resumable: state carries over between `feed` calls, so a frame may be split across any number of
 * chunks at any byte. Bulk payloads are skipped arithmetically; only headers and line elements are
 * touched byte by byte. After each `feed`, `count` frames completed in that chunk, the i-th ending
 * at `ends[i]` (an offset into the fed buffer) with first byte `types[i]` and `flags[i]`
 * (`NESTED_ERROR`, `HAS_ATTRIBUTE`). `inFrame` tells whether the chunk ended inside a frame.
 * The arrays are reused by the next `feed`; copy what must outlive it.
 */
export class ReplyScanner {
  // What the fast lane reads first (`countPlain`), declared together so they share a cache line.
  /** True while the bytes fed so far end inside a frame. */
  inFrame = false;
  private depth = 0;
  /** `NESTED_ERROR` when the last successful `wholeReply` found an error element inside its array. */
  private wrFlags = 0;
  private readonly maxElements: number;
  private readonly maxBulkBytes: number;

  count = 0;
  // Empty until the first frame (every write checks `ends.length` first): a session whose replies
  // all take the fast lane (`countPlain` writes none) never allocates them.
  ends = NO_I32;
  types = NO_U8;
  flags = NO_U8;
  /** Type byte of the frame in progress (valid while `inFrame`). */
  frameType = 0;
  /** Flags of the frame in progress, so far. */
  frameFlags = 0;

  private state = S_TYPE;
  private counts: Float64Array;
  private attrs: Uint8Array;
  private hdr = 0;
  private num = 0;
  private neg = false;
  private digits = 0;
  private remaining = 0;
  private topAttr = false;
  private readonly limits: RespLimits;

  constructor(limits: Partial<RespLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.maxElements = this.limits.maxElements;
    this.maxBulkBytes = this.limits.maxBulkBytes;
    this.counts = new Float64Array(8);
    this.attrs = new Uint8Array(8);
  }

  /**
   * The fast lane's question, asked before `feed` and changing no state: if `buf` holds exactly one
   * or more whole plain replies (lines, bulks, flat arrays or sets of those; no error anywhere, no
   * push) and the scanner is between frames, how many; otherwise 0, and the caller feeds the chunk.
   */
  countPlain(buf: Uint8Array): number {
    if (this.inFrame || this.depth !== 0) return 0;
    const end = buf.length;
    let pos = 0;
    let n = 0;
    while (pos < end) {
      const t = buf[pos];
      if (t === MINUS || t === GT) return 0;
      const next = this.wholeReply(buf, pos, end);
      if (next < 0 || this.wrFlags !== 0) return 0;
      pos = next;
      n++;
    }
    return n;
  }

  /** Scan `buf[pos, end)`. Throws `ProtocolError` on bytes that are not RESP; the scanner is then unusable. */
  feed(buf: Uint8Array, pos = 0, end = buf.length): void {
    this.count = 0;
    let state = this.state;
    let depth = this.depth;
    let inFrame = this.inFrame;
    let frameType = this.frameType;
    let frameFlags = this.frameFlags;
    while (pos < end) {
      if (state === S_TYPE) {
        if (depth === 0 && !inFrame) {
          // Fast path: a whole simple reply (or a flat array of them) inside this chunk.
          const next = this.wholeReply(buf, pos, end);
          if (next > 0) {
            const i = this.count;
            if (i === this.ends.length) this.growOut();
            this.ends[i] = next;
            this.types[i] = buf[pos]!;
            this.flags[i] = this.wrFlags;
            this.count = i + 1;
            pos = next;
            continue;
          }
        }
        const t = buf[pos++]!;
        if (depth === 0) {
          if (!inFrame) {
            inFrame = true;
            frameType = t;
            frameFlags = 0;
          } else if (this.topAttr) {
            this.topAttr = false;
            frameType = t;
          }
        } else if (t === MINUS) frameFlags |= NESTED_ERROR;
        switch (t) {
          case PLUS:
          case MINUS:
          case COLON:
          case COMMA:
          case HASH:
          case LPAREN:
          case UNDERSCORE:
            state = S_LINE;
            break;
          case DOLLAR:
          case EQUALS:
          case BANG:
          case STAR:
          case TILDE:
          case GT:
          case PERCENT:
          case PIPE:
            this.hdr = t;
            this.num = 0;
            this.neg = false;
            this.digits = 0;
            state = S_NUM;
            break;
          default:
            this.state = state;
            throw new ProtocolError(`unexpected byte ${describeByte(t)} where a RESP type was expected`);
        }
        continue;
      }
      if (state === S_LINE) {
        while (pos < end && buf[pos] !== 10) pos++;
        if (pos === end) break;
        pos++;
        state = S_TYPE;
      } else if (state === S_BODY) {
        const avail = end - pos;
        if (avail < this.remaining) {
          this.remaining -= avail;
          break;
        }
        pos += this.remaining;
        this.remaining = 0;
        state = S_TYPE;
      } else if (state === S_NUM) {
        const c = buf[pos++]!;
        if (c >= 48 && c <= 57) {
          this.num = this.num * 10 + (c - 48);
          if (++this.digits > 18)
            throw new ProtocolError(`invalid length in '${String.fromCharCode(this.hdr)}' header`);
        } else if (c === 13) {
          if (this.digits === 0) throw new ProtocolError(`invalid length in '${String.fromCharCode(this.hdr)}' header`);
          state = S_NUM_LF;
        } else if (c === MINUS && this.digits === 0 && !this.neg) {
          this.neg = true;
        } else {
          throw new ProtocolError(`invalid length in '${String.fromCharCode(this.hdr)}' header`);
        }
        continue;
      } else {
        // S_NUM_LF
        if (buf[pos++] !== 10) throw new ProtocolError('expected LF after CR');
        const n = this.neg ? -this.num : this.num;
        const hdr = this.hdr;
        if (hdr === DOLLAR || hdr === EQUALS || hdr === BANG) {
          if (n === -1 && hdr === DOLLAR) {
            state = S_TYPE;
          } else if (n < 0 || n > this.limits.maxBulkBytes) {
            throw new ProtocolError('invalid bulk length');
          } else {
            this.remaining = n + 2;
            state = S_BODY;
            continue;
          }
        } else {
          state = S_TYPE;
          if (n === -1 && (hdr === STAR || hdr === PERCENT || hdr === TILDE)) {
            // A null aggregate: one element, finished.
          } else if (n < 0 || n > this.limits.maxElements) {
            throw new ProtocolError('invalid multibulk length');
          } else if (n === 0) {
            if (hdr === PIPE) {
              // An empty attribute is no element: the value it annotates follows.
              if (depth === 0) this.topAttr = true;
              continue;
            }
          } else {
            if (depth >= this.limits.maxDepth) throw new ProtocolError('reply nested too deeply');
            if (depth === this.counts.length) this.growStack();
            this.counts[depth] = hdr === PERCENT || hdr === PIPE ? n * 2 : n;
            this.attrs[depth] = hdr === PIPE ? 1 : 0;
            if (depth === 0 && hdr === PIPE) frameFlags |= HAS_ATTRIBUTE;
            depth++;
            continue;
          }
        }
      }
      // Every path that reaches here finished one element (the others continue, break or throw):
      // close every aggregate it completes.
      let frameDone = true;
      while (depth > 0) {
        const c = --this.counts[depth - 1]!;
        if (c > 0) {
          frameDone = false;
          break;
        }
        depth--;
        if (this.attrs[depth] === 1) {
          // An attribute is not an element of its parent; the annotated value comes next.
          frameDone = false;
          if (depth === 0) this.topAttr = true;
          break;
        }
      }
      if (frameDone) {
        const i = this.count;
        if (i === this.ends.length) this.growOut();
        this.ends[i] = pos;
        this.types[i] = frameType;
        this.flags[i] = frameFlags;
        this.count = i + 1;
        inFrame = false;
      }
    }
    this.state = state;
    this.depth = depth;
    this.inFrame = inFrame;
    this.frameType = frameType;
    this.frameFlags = frameFlags;
  }

  /**
   * Parse one frame lying entirely in `buf[pos, end)` when it is a line (`+ - : , # ( _`), a bulk
   * (`$`), or a flat array/push/set of those: returns where it ends (`wrFlags` says whether an
   * element is an error). -1 hands the frame to the state machine (split frames, nesting, RESP3
   * maps, attributes, every error).
   */
  private wholeReply(buf: Uint8Array, pos: number, end: number): number {
    const t = buf[pos]!;
    let flags = 0;
    let p: number;
    if (t === STAR || t === GT || t === TILDE) {
      if (buf[pos + 1] === MINUS) {
        this.wrFlags = 0;
        return nullEnd(buf, pos, end);
      }
      const cr = lengthEnd(buf, pos + 1, end, 9);
      if (cr < 0 || buf[cr + 1] !== 10) return -1;
      const n = parsed.length;
      if (n > this.maxElements) return -1;
      p = cr + 2;
      for (let k = 0; k < n; k++) {
        if (p >= end) return -1;
        if (buf[p] === MINUS) flags = NESTED_ERROR;
        p = this.wholeScalar(buf, p, end);
        if (p < 0) return -1;
      }
    } else {
      p = this.wholeScalar(buf, pos, end);
      if (p < 0) return -1;
    }
    this.wrFlags = flags;
    return p;
  }

  /** End of one line or bulk element lying entirely in the buffer, or -1. */
  private wholeScalar(buf: Uint8Array, p: number, end: number): number {
    const t = buf[p]!;
    if (t === DOLLAR) {
      if (buf[p + 1] === MINUS) return nullEnd(buf, p, end);
      const cr = lengthEnd(buf, p + 1, end, 10);
      if (cr < 0 || buf[cr + 1] !== 10 || parsed.length > this.maxBulkBytes) return -1;
      p = cr + 4 + parsed.length;
      return p <= end ? p : -1;
    }
    if (t === PLUS || t === MINUS || t === COLON || t === COMMA || t === HASH || t === LPAREN || t === UNDERSCORE) {
      while (++p < end && buf[p] !== 10);
      return p < end ? p + 1 : -1;
    }
    return -1;
  }

  private growStack(): void {
    const c = new Float64Array(this.counts.length * 2);
    c.set(this.counts);
    this.counts = c;
    const a = new Uint8Array(this.attrs.length * 2);
    a.set(this.attrs);
    this.attrs = a;
  }

  private growOut(): void {
    const n = Math.max(16, this.ends.length * 2);
    const e = new Int32Array(n);
    e.set(this.ends);
    this.ends = e;
    const t = new Uint8Array(n);
    t.set(this.types);
    this.types = t;
    const f = new Uint8Array(n);
    f.set(this.flags);
    this.flags = f;
  }
}

/** End of the RESP2 null `$-1\r\n` / `*-1\r\n` at `p`, or -1 (any other negative length is the state machine's to reject). */
function nullEnd(buf: Uint8Array, p: number, end: number): number {
  return p + 5 <= end && buf[p + 2] === 0x31 && buf[p + 3] === 13 && buf[p + 4] === 10 ? p + 5 : -1;
}

/** `'x'` for printable ASCII, else `0xNN`. */
export function describeByte(b: number): string {
  return b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `0x${b.toString(16).padStart(2, '0')}`;
}
