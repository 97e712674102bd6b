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
 * A request that needs more than "one reply from Redis": a mark, a local answer, pub/sub or a
 * reply core must watch. Plain requests have no Entry at all (see `InFlight`).
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
}

/** What `peek` returns for a plain request: one reply from Redis, nothing else to do. */
export const PLAIN: Readonly<Entry> = Object.freeze(new Entry());

/**
 * The FIFO of in-flight requests of one session. Each reply consumes the head; out-of-band frames
 * consume nothing. Runs of plain requests are kept as a count, so the common case costs an
 * increment per request and a decrement per reply, and allocates nothing. While every request in
 * flight is plain (almost always), the FIFO is just `size`: the ring is not touched at all, which
 * keeps the fast lanes to the one cache line of this object.
 */
export class InFlight {
  /** Requests waiting, plain ones included. */
  size = 0;
  /** Entries answered by the proxy still waiting for their turn (lets the reply path skip looking). */
  answered = 0;
  /** Requests that left the FIFO since it was made: with `size`, a position in the session's request stream. */
  shifted = 0;
  /** Requests pushed that Redis answers (not the proxy): a shared connection's reply count is a difference of it. */
  remote = 0;
  /** True while every request in flight is plain: they are `size`, the ring is empty. */
  private allPlain = true;
  private head = 0;
  private slots = 0;
  private entries: Array<Entry | null> = new Array(8).fill(null);
  private runs = new Int32Array(8);

  /** Append `n` plain requests. */
  pushPlain(n = 1): void {
    this.size += n;
    this.remote += n;
    if (this.allPlain) return;
    if (this.slots > 0) {
      const tail = (this.head + this.slots - 1) & (this.runs.length - 1);
      if (this.entries[tail] === null) {
        this.runs[tail]! += n;
        return;
      }
    }
    const i = this.newSlot();
    this.entries[i] = null;
    this.runs[i] = n;
  }

  /** How many plain requests are at the head, in one run (0 if the head has an entry). */
  plainAtHead(): number {
    if (this.allPlain) return this.size;
    return this.slots > 0 && this.entries[this.head] === null ? this.runs[this.head]! : 0;
  }

  /** Consume `n` plain requests at the head (the caller checked `plainAtHead() >= n`). */
  shiftPlain(n: number): void {
    this.size -= n;
    this.shifted += n;
    if (this.allPlain) return;
    const h = this.head;
    if ((this.runs[h]! -= n) > 0) return;
    this.head = (h + 1) & (this.runs.length - 1);
    if (--this.slots === 0) this.allPlain = true;
  }

  /** Append a request that has an entry. */
  push(e: Entry): void {
    this.leaveAllPlain();
    this.size++;
    if (e.kind === ANSWERED) this.answered++;
    else this.remote++;
    const i = this.newSlot();
    this.entries[i] = e;
    this.runs[i] = 1;
  }

  /** The head: an Entry, `PLAIN`, or undefined when empty. */
  peek(): Entry | undefined {
    if (this.allPlain) return this.size > 0 ? PLAIN : undefined;
    if (this.slots === 0) return undefined;
    return this.entries[this.head] ?? PLAIN;
  }

  /** The i-th slot from the head (a run of plain requests counts once), for scans that skip ahead. */
  slotAt(i: number): Entry | undefined {
    if (this.allPlain) return i === 0 && this.size > 0 ? PLAIN : undefined;
    if (i >= this.slots) return undefined;
    return this.entries[(this.head + i) & (this.runs.length - 1)] ?? PLAIN;
  }

  shift(): void {
    if (this.allPlain) {
      if (this.size > 0) {
        this.size--;
        this.shifted++;
      }
      return;
    }
    if (this.slots === 0) return;
    this.size--;
    this.shifted++;
    const h = this.head;
    const e = this.entries[h];
    if (e === null) {
      if (--this.runs[h]! > 0) return;
    } else if (e!.kind === ANSWERED) this.answered--;
    this.entries[h] = null;
    this.head = (h + 1) & (this.runs.length - 1);
    if (--this.slots === 0) this.allPlain = true;
  }

  /** Replace every request still waiting on Redis (plain, remote, pub/sub) with a local `reply`. */
  answerAllRemote(reply: Buffer): number {
    this.leaveAllPlain();
    const old: Array<[Entry | null, number]> = [];
    for (let k = 0; k < this.slots; k++) {
      const i = (this.head + k) & (this.runs.length - 1);
      old.push([this.entries[i]!, this.runs[i]!]);
      this.entries[i] = null;
    }
    this.head = 0;
    this.slots = 0;
    this.size = 0;
    this.answered = 0;
    this.allPlain = false;
    let n = 0;
    for (const [e, run] of old) {
      if (e !== null && e.kind === ANSWERED) {
        this.push(e);
        continue;
      }
      for (let k = 0; k < run; k++) {
        const a = new Entry();
        a.kind = ANSWERED;
        a.local = reply;
        this.push(a);
        n++;
      }
    }
    if (this.slots === 0) this.allPlain = true;
    return n;
  }

  /** Forget every request: none of them will be answered. */
  clear(): void {
    this.entries.fill(null);
    this.head = 0;
    this.slots = 0;
    this.size = 0;
    this.answered = 0;
    this.allPlain = true;
  }

  /** Move the plain requests counted in `size` into the ring, as one run, before an entry joins them. */
  private leaveAllPlain(): void {
    if (!this.allPlain) return;
    this.allPlain = false;
    if (this.size === 0) return;
    const i = this.newSlot();
    this.entries[i] = null;
    this.runs[i] = this.size;
  }

  private newSlot(): number {
    if (this.slots === this.runs.length) this.grow();
    const i = (this.head + this.slots) & (this.runs.length - 1);
    this.slots++;
    return i;
  }

  private grow(): void {
    const n = this.runs.length * 2;
    const entries: Array<Entry | null> = new Array(n).fill(null);
    const runs = new Int32Array(n);
    for (let k = 0; k < this.slots; k++) {
      const i = (this.head + k) & (this.runs.length - 1);
      entries[k] = this.entries[i]!;
      runs[k] = this.runs[i]!;
    }
    this.entries = entries;
    this.runs = runs;
    this.head = 0;
  }
}
