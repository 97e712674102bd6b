import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';

/**
 * An in-memory stand-in for a `net.Socket`, enough for a `Session`: the test decides exactly which
 * chunks arrive (`receive`) and reads what was written (`written()`). `capacity` makes `write`
 * report a full buffer once that many bytes are unread, to test backpressure; `drain()` empties it.
 */
export class FakeSocket extends EventEmitter {
  readonly chunks: Buffer[] = [];
  paused = false;
  ended = false;
  destroyed = false;
  corked = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  /** Bytes written and not yet taken by `drain()`. */
  writableLength = 0;

  constructor(public capacity = Infinity) {
    super();
  }

  asSocket(): Socket {
    return this as unknown as Socket;
  }

  /** Deliver a chunk as if it came from the network. Ignored while paused, like a real socket that stopped reading. */
  receive(chunk: Buffer | string): boolean {
    if (this.paused) return false;
    this.emit('data', Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'));
    return true;
  }

  /** Everything written so far. */
  written(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The peer read everything: clear the buffer and emit 'drain'. */
  drain(): void {
    const full = this.writableLength >= this.capacity;
    this.writableLength = 0;
    if (full) this.emit('drain');
  }

  write(data: Buffer | string): boolean {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.chunks.push(Buffer.from(b));
    this.writableLength += b.length;
    return this.writableLength < this.capacity;
  }

  end(data?: Buffer | string): this {
    if (data !== undefined) this.write(data);
    if (!this.ended) queueMicrotask(() => this.emit('finish'));
    this.ended = true;
    return this;
  }

  /** A fake hands every write over at once: once ended, it has finished. */
  get writableFinished(): boolean {
    return this.ended;
  }

  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      queueMicrotask(() => this.emit('close'));
    }
    return this;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    return this;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    this.corked--;
  }

  setNoDelay(): this {
    return this;
  }
}
