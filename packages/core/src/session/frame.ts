import { decodeMultibulkArgs, decodeReply, type RespNode } from '../resp/decode.js';
import { splitInlineArgs } from '../resp/inline-args.js';
import { INLINE } from '../resp/request-scanner.js';
import type { PoolKey } from '../upstream/upstream-pool.js';
import type { Entry } from './in-flight.js';

/** A whole frame, decodable and replaceable. */
export const COMPLETE = 0;
/** A piece of a frame too large to hold: forwarded as it arrives, never decoded or replaced. */
export const STREAM = 1;
/** A reply the proxy made itself (`SessionContext.answer`), placed in FIFO order. Not upstream bytes. */
export const LOCAL = 2;

const EMPTY = Buffer.alloc(0);

/**
 * A view of one frame (or piece of one) in a batch: `buf[start, end)`. Zero-copy: `buf` is the
 * socket chunk itself, except for a frame that spanned chunks, which gets its own joined copy.
 *
 * Frames are pooled per session and reused by the next batch: a middleware may read and change a
 * frame only while its operator handles the batch, and must copy what it keeps.
 */
export class Frame {
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** `COMPLETE`, `STREAM` or `LOCAL`. */
  kind = COMPLETE;
  /** The first byte; for a reply that starts with an attribute, the type of the value after it. */
  type = 0;
  /** Scanner flags: `NESTED_ERROR`/`HAS_ATTRIBUTE` on replies, `INLINE`/`NO_REPLY` on requests. */
  flags = 0;
  /** Requests: the upper-case command name when it is one of the names the pipeline watches. */
  command: string | undefined = undefined;
  /** Requests: number of arguments including the command name (inline lines are decoded
   *  as Redis decodes them, `splitInlineArgs`, before the name is matched). */
  argc = 0;
  /**
   * Requests: inside MULTI, this command's position among the queued commands — its reply's index
   * in the EXEC array; -1 outside a transaction (and for MULTI, EXEC, DISCARD themselves).
   */
  txIndex = -1;
  /** The new bytes for this frame, set by `replace`. A promise holds back everything after it until it settles. */
  replacement: Buffer | Promise<Buffer> | null = null;
  /** Requests: answered by the proxy, not sent upstream. */
  dropped = false;
  /** Requests: Redis will send a reply to it (false after CLIENT REPLY OFF/SKIP, for `*0`, blank lines). */
  expectsReply = false;
  /**
   * @internal Requests: the entry this request will take in the in-flight FIFO, when it needs one
   * (a mark, a local answer, pub/sub …); null for a plain request. Replies: the entry consumed.
   */
  entry: Entry | null = null;
  /** @internal Requests of a session on a shared connection: what the request means there (`SHARE_*` of sharing.ts). */
  share = 0;
  /** @internal With `SHARE_KEY`: the pool key the request moves the session to. */
  shareKey: PoolKey | null = null;
  /** @internal CLIENT SETNAME / HELLO … SETNAME: the valid name it gives the connection. */
  shareName: Buffer | null = null;
  /** @internal Where the command name starts, relative to `start` (-1: not known yet). */
  nameOff = -1;
  nameLen = -1;
  private cached = false;
  private cachedArgs: Buffer[] | null = null;
  private cachedNode: RespNode | null = null;
  private cachedName: string | null = null;

  /** @internal Reset for reuse from the pool. */
  set(buf: Buffer, start: number, end: number, kind: number): this {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.kind = kind;
    this.type = buf.length > start ? buf[start]! : 0;
    this.flags = 0;
    this.command = undefined;
    this.argc = 0;
    this.txIndex = -1;
    this.replacement = null;
    this.dropped = false;
    this.entry = null;
    this.expectsReply = false;
    this.share = 0;
    this.shareKey = null;
    this.shareName = null;
    this.nameOff = -1;
    this.nameLen = -1;
    if (this.cached) {
      this.cached = false;
      this.cachedArgs = null;
      this.cachedNode = null;
      this.cachedName = null;
    }
    return this;
  }

  /** The frame's bytes (a view, no copy). */
  bytes(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** Length in bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** Replies: the decoded value (cached). Only for `COMPLETE` frames. */
  decode(): RespNode {
    if (this.kind !== COMPLETE) throw new Error('only a complete frame can be decoded');
    this.cached = true;
    return (this.cachedNode ??= decodeReply(this.buf, this.start, this.end));
  }

  /** Requests: the arguments, command name first, as views into the frame (cached). */
  args(): Buffer[] {
    if (this.kind !== COMPLETE) throw new Error('only a complete frame can be decoded');
    if (this.cachedArgs) return this.cachedArgs;
    this.cached = true;
    this.cachedArgs =
      this.flags & INLINE
        ? splitInlineArgs(this.buf, this.start, this.end)
        : decodeMultibulkArgs(this.buf, this.start, this.end);
    return this.cachedArgs;
  }

  /** Requests: the command name in upper case, decoded on first use. */
  commandName(): string {
    if (this.command !== undefined) return this.command;
    if (this.cachedName !== null) return this.cachedName;
    let name = '';
    if (this.nameLen >= 0 && this.nameOff >= 0) {
      name = this.buf.toString('latin1', this.start + this.nameOff, this.start + this.nameOff + this.nameLen);
    } else if (this.kind === COMPLETE) {
      name = this.args()[0]?.toString('latin1') ?? '';
    }
    this.cached = true;
    return (this.cachedName = name.toUpperCase());
  }

  /** Replace the frame's bytes in the output. A promise keeps later output waiting until it settles. */
  replace(bytes: Buffer | Promise<Buffer>): void {
    if (this.kind !== COMPLETE) throw new Error('only a complete frame can be replaced');
    this.replacement = bytes;
  }
}

/**
 * One socket chunk's worth of frames, handed through the middleware pipeline as a unit.
 * `frames[0 … count)` are valid; the array and its frames are reused for the next batch.
 */
export class Batch {
  readonly frames: Frame[] = [];
  count = 0;
  /** Requests: frames whose `command` is set. Replies: frames that are errors or contain one. */
  interesting = 0;
  /** Replies: frames whose request was marked by some middleware. */
  marked = 0;
  /** @internal Set when the pipeline delivered this batch (exactly once per batch). */
  delivered = false;

  /** @internal */
  reset(): void {
    this.count = 0;
    this.interesting = 0;
    this.marked = 0;
    this.delivered = false;
  }

  /** @internal Append a frame view from the pool. */
  push(buf: Buffer, start: number, end: number, kind: number): Frame {
    let f = this.frames[this.count];
    if (f === undefined) {
      f = new Frame();
      this.frames.push(f);
    }
    this.count++;
    return f.set(buf, start, end, kind);
  }
}
