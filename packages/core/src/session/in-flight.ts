/** Entry kinds. */
export const REMOTE = 0;
/** Answered by the proxy: `local` holds the reply (or a promise of it). */
export const ANSWERED = 1;
/** A (P|S)(UN)SUBSCRIBE: consumes `expected` confirmations (or one error) instead of one reply. */
export const PUBSUB = 2;

/** Core flags on an entry: what the session does when its reply arrives. */
export const E_HELLO = 1;
export const E_MONITOR = 2;
export const E_RESET = 4;

/**
 * One request waiting for its reply. Pooled: the ring reuses entry objects, so an entry is valid
 * only until its reply has been handled.
 */
export class Entry {
  kind = REMOTE;
  core = 0;
  /** HELLO: the protocol version asked for. */
  protover = 0;
  /** PUBSUB: which confirmation word it expects (index into PUBSUB_KINDS) and how many (-1: all). */
  pubsubKind = 0;
  expected = 0;
  seen = 0;
  local: Buffer | Promise<Buffer> | null = null;
  /** Per-middleware marks, indexed by the middleware's position in the pipeline. */
  marks: unknown[] | null = null;
  /** The command name, when known (watched commands), for diagnostics. */
  command: string | undefined = undefined;

  reset(): this {
    this.kind = REMOTE;
    this.core = 0;
    this.protover = 0;
    this.pubsubKind = 0;
    this.expected = 0;
    this.seen = 0;
    this.local = null;
    this.marks = null;
    this.command = undefined;
    return this;
  }
}

/**
 * The FIFO of in-flight requests of one session, a growable ring of reused entries: each reply
 * consumes the head; out-of-band frames consume nothing.
 */
export class InFlight {
  private ring: Entry[] = [];
  private head = 0;
  size = 0;

  /** Append a fresh entry and return it. */
  push(): Entry {
    if (this.size === this.ring.length) this.grow();
    const i = (this.head + this.size) % this.ring.length;
    this.size++;
    const e = this.ring[i]!;
    return e.reset();
  }

  peek(): Entry | undefined {
    return this.size === 0 ? undefined : this.ring[this.head];
  }

  /** The i-th entry from the head. */
  at(i: number): Entry | undefined {
    return i < this.size ? this.ring[(this.head + i) % this.ring.length] : undefined;
  }

  shift(): Entry | undefined {
    if (this.size === 0) return undefined;
    const e = this.ring[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
    return e;
  }

  private grow(): void {
    const n = Math.max(16, this.ring.length * 2);
    const next: Entry[] = new Array(n);
    for (let i = 0; i < this.size; i++) next[i] = this.ring[(this.head + i) % this.ring.length]!;
    for (let i = this.size; i < n; i++) next[i] = new Entry();
    this.ring = next;
    this.head = 0;
  }
}
