import { ProtocolError } from '../errors.js';
import { type Batch, COMPLETE, type Frame, STREAM } from './frame.js';

/** What a scanner offers the reader (ReplyScanner and RequestScanner both fit). */
export interface FrameScanner {
  count: number;
  ends: Int32Array;
  inFrame: boolean;
  /** Bytes the frame in progress is already known to still need (a declared bulk length), when the scanner tracks it. */
  readonly curNeeds?: number;
  feed(buf: Uint8Array, pos?: number, end?: number): void;
}

/** Decisions the session makes as frames complete. */
export interface FrameSink {
  /** A complete frame was appended to `batch`; `i` indexes the scanner's per-frame arrays. */
  onFrame(batch: Batch, frame: Frame, i: number): void;
  /** The frame in progress outgrew the hold limit; `prefix` holds its bytes so far. True: keep holding it whole. */
  mustHold(prefix: Buffer): boolean;
  /** A frame too large to hold starts streaming; `first` is its first piece (`prefix` its bytes so far). */
  onStreamStart(batch: Batch, first: Frame, prefix: Buffer): void;
  /** The last piece of a streamed frame was appended to `batch`. */
  onStreamEnd(batch: Batch): void;
}

/**
 * Turns socket chunks into batches of frames: complete frames are views into the chunk; a frame
 * split across chunks is held (its pieces kept by reference) and joined once it completes; a frame
 * that outgrows `holdLimit` and that nobody must see whole is streamed — its bytes pass through as
 * `STREAM` pieces as they arrive, so memory stays bounded whatever the value size.
 */
export class FrameReader {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private streaming = false;
  private holdWhole = false;

  constructor(
    private readonly scanner: FrameScanner,
    private readonly sink: FrameSink,
    private readonly holdLimit: number,
    /** The largest frame held whole; past it (or once a declared length says it will be) a protocol error. */
    private readonly maxHold: number,
    /** What a frame is, for that error: `command too large for the proxy to hold (max … bytes)`. */
    private readonly what = 'frame',
  ) {}

  /** Bytes held for a frame in progress. */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  /** True when no frame is held or streaming: the next chunk starts at a frame boundary. */
  get idle(): boolean {
    return this.heldBytes === 0 && !this.streaming;
  }

  /**
   * Scan `chunk` and append its frames to `batch`. A protocol error is returned (not thrown) after
   * the frames before it were appended, so they can still be served in order.
   */
  read(chunk: Buffer, batch: Batch): ProtocolError | null {
    return this.assemble(chunk, batch, this.scan(chunk));
  }

  /**
   * First half of `read`: run the scanner over `chunk`. The caller may then look at the scanner's
   * output itself (the session's fast lane) and must otherwise call `assemble` with the result.
   */
  scan(chunk: Buffer): ProtocolError | null {
    try {
      this.scanner.feed(chunk, 0, chunk.length);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return e;
    }
    return null;
  }

  /** Second half of `read`: build the batch from what `scan` found. */
  assemble(chunk: Buffer, batch: Batch, error: ProtocolError | null): ProtocolError | null {
    let prev: number;
    try {
      prev = this.appendFrames(chunk, batch, this.scanner.count);
    } catch (e) {
      // The sink could not make sense of a frame (an inline command with unbalanced quotes):
      // frames before it stand, the rest of the chunk is dropped with the error.
      if (!(e instanceof ProtocolError)) throw e;
      return e;
    }
    if (error || prev === chunk.length) return error;
    return this.appendTail(chunk, batch, prev);
  }

  private appendFrames(chunk: Buffer, batch: Batch, n: number): number {
    const sc = this.scanner;
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const e = sc.ends[i]!;
      if (i === 0 && this.streaming) {
        batch.push(chunk, 0, e, STREAM);
        this.streaming = false;
        this.sink.onStreamEnd(batch);
      } else if (i === 0 && this.heldBytes > 0) {
        this.held.push(chunk.subarray(0, e));
        const joined = Buffer.concat(this.held, this.heldBytes + e);
        this.held = [];
        this.heldBytes = 0;
        this.holdWhole = false;
        this.complete(batch, batch.push(joined, 0, joined.length, COMPLETE), i);
      } else {
        this.complete(batch, batch.push(chunk, prev, e, COMPLETE), i);
      }
      prev = e;
    }
    return prev;
  }

  private complete(batch: Batch, frame: Frame, i: number): void {
    try {
      this.sink.onFrame(batch, frame, i);
    } catch (e) {
      batch.count--; // the frame that could not be understood is not served
      throw e;
    }
  }

  private appendTail(chunk: Buffer, batch: Batch, prev: number): ProtocolError | null {
    if (this.streaming) {
      batch.push(chunk, prev, chunk.length, STREAM);
      return null;
    }
    const rest = prev === 0 ? chunk : chunk.subarray(prev);
    this.held.push(rest);
    this.heldBytes += rest.length;
    if (this.heldBytes > this.holdLimit) {
      if (!this.holdWhole) {
        const prefix = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
        if (this.sink.mustHold(prefix)) {
          this.holdWhole = true;
        } else {
          this.streaming = true;
          this.held = [];
          this.heldBytes = 0;
          this.sink.onStreamStart(batch, batch.push(prefix, 0, prefix.length, STREAM), prefix);
          return null;
        }
      }
      // Checked as the frame arrives, not once it is all held: the declared length tells early.
      if (this.heldBytes + (this.scanner.curNeeds ?? 0) > this.maxHold) {
        this.held = []; // the session closes; the memory goes back now
        this.heldBytes = 0;
        return new ProtocolError(`${this.what} too large for the proxy to hold (max ${this.maxHold} bytes)`);
      }
    }
    return null;
  }
}
