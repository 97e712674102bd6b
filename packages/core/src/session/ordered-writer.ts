import type { Socket } from 'node:net';
import { encodeError } from '../resp/encode.js';
import type { Batch } from './frame.js';
import type { SessionStats } from './stats.js';

interface Pending {
  value: Buffer | null;
}

/**
 * Writes replies to the client in order, where some replies are promises (an admin command that
 * rescans the cluster, a redirect waiting for a rescan): everything after a pending promise waits
 * in a queue until it settles. Signals `onPressure(true)` when the socket or the queue is full, so
 * the session stops reading Redis, and `onPressure(false)` once both drained.
 */
export class OrderedWriter {
  /** Entries in `queue`: read on every write, so the queue array itself stays untouched while empty. */
  private waiting = 0;
  /** The socket has closed: writes are dropped (checked instead of the `destroyed` getter on every write). */
  private gone = false;
  private socketFull = false;
  private pressured = false;
  private queuedBytes = 0;
  private readonly queue: Array<Buffer | Pending> = [];

  constructor(
    private readonly socket: Socket,
    private readonly maxQueuedBytes: number,
    private readonly onPressure: (on: boolean) => void,
    private readonly onIdle: () => void,
    private readonly stats: SessionStats,
  ) {
    socket.on('drain', () => {
      this.socketFull = false;
      this.update();
    });
    socket.on('close', () => {
      this.gone = true;
    });
  }

  /** True when nothing waits in the queue. */
  get idle(): boolean {
    return this.waiting === 0;
  }

  /** Nothing waits, in the queue or the socket: a lent chunk written now is taken at once or kept. */
  get clear(): boolean {
    return this.socket.writableLength === 0 && this.waiting === 0;
  }

  /** Bytes waiting in the queue plus the socket's own buffer. */
  get bufferedBytes(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  write(buf: Buffer): void {
    if (buf.length === 0) return;
    if (this.waiting === 0) {
      this.send(buf);
    } else {
      this.waiting = this.queue.push(buf);
      this.queuedBytes += buf.length;
      this.update();
    }
  }

  /** Queue a reply that is not ready yet; later writes wait behind it. */
  writeLater(promise: Promise<Buffer>): void {
    const slot: Pending = { value: null };
    this.waiting = this.queue.push(slot);
    promise.then(
      (v) => {
        slot.value = v;
        this.flush();
      },
      (err: unknown) => {
        slot.value = encodeError(`ERR slotrelay: ${err instanceof Error ? err.message : String(err)}`);
        this.flush();
      },
    );
  }

  /** Write a reply batch: frames in runs of adjacent bytes, replacements (and promises) at their place. */
  writeBatch(b: Batch): void {
    if (b.count === 1) {
      const f = b.frames[0]!;
      if (f.replacement === null) {
        this.write(f.start === 0 && f.end === f.buf.length ? f.buf : f.buf.subarray(f.start, f.end));
        return;
      }
    }
    this.socket.cork();
    let run: Buffer | null = null;
    let s = 0;
    let e = 0;
    for (let i = 0; i < b.count; i++) {
      const f = b.frames[i]!;
      if (f.replacement !== null) {
        if (run !== null) this.write(run.subarray(s, e));
        run = null;
        if (Buffer.isBuffer(f.replacement)) this.write(f.replacement);
        else this.writeLater(f.replacement);
        continue;
      }
      if (run === f.buf && e === f.start) {
        e = f.end;
        continue;
      }
      if (run !== null) this.write(run.subarray(s, e));
      run = f.buf;
      s = f.start;
      e = f.end;
    }
    if (run !== null) this.write(s === 0 && e === run.length ? run : run.subarray(s, e));
    this.socket.uncork();
  }

  private flush(): void {
    if (this.socket.destroyed) return;
    this.socket.cork();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (Buffer.isBuffer(head)) {
        this.queue.shift();
        this.queuedBytes -= head.length;
        this.send(head);
      } else if (head.value !== null) {
        this.queue.shift();
        this.send(head.value);
      } else break;
    }
    this.waiting = this.queue.length;
    this.socket.uncork();
    this.update();
    if (this.waiting === 0) this.onIdle();
  }

  private send(buf: Buffer): void {
    // A socket destroyed but not yet closed takes the write and drops it (Node reports
    // ERR_STREAM_DESTROYED to the write's callback, of which there is none).
    if (this.gone) return;
    this.stats.bytesToClients += buf.length;
    if (!this.socket.write(buf)) {
      this.socketFull = true;
      this.update();
    }
  }

  private update(): void {
    const on = this.socketFull || this.queuedBytes > this.maxQueuedBytes;
    if (on !== this.pressured) {
      this.pressured = on;
      this.onPressure(on);
    }
  }
}
