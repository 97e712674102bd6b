import type { Socket } from 'node:net';
import { P_DRAIN, P_QUEUE, type Gate } from './gate.js';
import type { SharedSide } from './shared-side.js';
import type { SessionStats } from './stats.js';

/** `UpstreamWriter.error` when Redis is unreachable: requests for it close the session without a reply. */
export const UNREACHABLE = Buffer.alloc(0);

/**
 * Writes requests to Redis: the upstream's mirror of `OrderedWriter`. Until the connection is
 * attached, requests wait in a queue (the client stops being read past `maxQueuedBytes`); once it
 * is, a write the socket cannot take at once pauses the client until the socket drains. After
 * `fail`, nothing more is queued for Redis.
 */
export class UpstreamWriter {
  socket: Socket | null = null;
  /**
   * The session's life on shared connections, while it is not pinned (null without sharing, and
   * once it has a connection of its own). While `side.linked`, writes are staged there and
   * committed once per read (`commit`); while it moves, they queue here like before a dial.
   */
  side: SharedSide | null = null;
  /**
   * Why requests cannot reach Redis, once they cannot: `UNREACHABLE` (the session closes without a
   * reply at the first request for Redis) or the `-ERR` each request gets (a config state).
   */
  error: Buffer | null = null;
  private queue: Buffer[] = [];
  private queued = 0;

  constructor(
    private readonly clientGate: Gate,
    private readonly maxQueuedBytes: number,
    private readonly stats: SessionStats,
  ) {}

  /** Attached, and the socket holds nothing back: a lent chunk written now is taken at once or kept. */
  get clear(): boolean {
    // Staged bytes are copied into the shared connection's buffer before the read returns.
    if (this.side !== null) return this.side.linked;
    const s = this.socket;
    return s !== null && s.writableLength === 0;
  }

  /** Bytes queued before the connection and in the socket's buffer. */
  get bufferedBytes(): number {
    return this.queued + (this.socket?.writableLength ?? 0) + (this.side?.bufferedBytes ?? 0);
  }

  write(bytes: Buffer): void {
    const side = this.side;
    if (side !== null && side.linked) {
      this.stats.bytesToRedis += bytes.length;
      side.stage(bytes);
      return;
    }
    const up = this.socket;
    if (up === null) {
      if (this.error !== null) return;
      this.queue.push(bytes);
      this.queued += bytes.length;
      if (this.queued > this.maxQueuedBytes) this.clientGate.hold(P_QUEUE);
      return;
    }
    this.stats.bytesToRedis += bytes.length;
    if (!up.write(bytes)) this.clientGate.hold(P_DRAIN);
  }

  /** The end of a read's requests: a shared session's staged requests go to its connection. */
  commit(): void {
    this.side?.commit();
  }

  /** The shared connection takes requests again: what queued goes first, in order. */
  linkReady(): void {
    const side = this.side!;
    for (const b of this.queue) {
      this.stats.bytesToRedis += b.length;
      side.stage(b);
    }
    this.drop();
    side.commit();
    this.clientGate.release(P_QUEUE);
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** The first `n` writes queued, taken out (counted as sent: they go to a shared connection). */
  takeQueued(n: number): Buffer[] {
    const out = this.queue.splice(0, n);
    for (const b of out) {
      this.queued -= b.length;
      this.stats.bytesToRedis += b.length;
    }
    return out;
  }

  /** The first request queued (a key change that goes alone to the new key's connection). */
  takeFirstQueued(): Buffer | undefined {
    const b = this.queue.shift();
    if (b !== undefined) {
      this.queued -= b.length;
      this.stats.bytesToRedis += b.length;
    }
    return b;
  }

  cork(): void {
    this.socket?.cork();
  }

  uncork(): void {
    this.socket?.uncork();
  }

  /** The connection is up: send what waited for it. */
  attach(sock: Socket): void {
    this.side = null;
    this.socket = sock;
    sock.on('drain', () => this.clientGate.release(P_DRAIN));
    if (this.queue.length > 0) {
      sock.cork();
      for (const b of this.queue) this.write(b);
      sock.uncork();
      this.drop();
    }
    this.clientGate.release(P_QUEUE);
  }

  /** No connection will come, or it broke: drop what waits for it. */
  fail(error: Buffer): void {
    this.error = error;
    this.side?.close();
    this.side = null;
    this.drop();
    this.clientGate.release(P_QUEUE);
  }

  /** Pass the client's half-close on (a no-op until attached, or once failed). */
  end(): void {
    if (this.socket !== null && this.error === null) this.socket.end();
  }

  destroy(): void {
    this.side?.close();
    this.socket?.destroy();
  }

  private drop(): void {
    this.queue = [];
    this.queued = 0;
  }
}
