import type { GuardOptions } from './address-guard.js';
import type { ReplyKind } from './rewrite-reply.js';

const QUEUED = Buffer.from('+QUEUED\r\n', 'latin1');

/**
 * The address-bearing commands of one MULTI … EXEC of a session, by their place in the EXEC array.
 * The place comes from core (`Frame.txIndex`, counted as requests are scanned), corrected for the
 * requests of the transaction an earlier middleware answered itself: core counted them, Redis never
 * queued them. Requests answered by a later middleware cannot be seen here; `rewriteExecReply`
 * checks each element's shape and looks further when a place turns out wrong.
 */
export class Transaction {
  /** EXEC array index → how to rewrite that element. */
  readonly positions = new Map<number, ReplyKind>();
  /** Every kind queued, whether or not its place is known. */
  readonly kinds = new Set<ReplyKind>();
  /** Requests of the transaction answered by an earlier middleware so far. */
  private skew = 0;
  /** The places may be off (a nested MULTI, two commands on one index): check every element. */
  verifyAll = false;
  /** A script or introspection command was queued: every element of the EXEC array is guarded so. */
  guard: GuardOptions | null = null;

  /** EXEC array indexes of queued CONFIG GETs (their address parameters are dropped there too). */
  readonly configAt = new Set<number>();

  /** A CONFIG GET was queued: remember its place, as `add` does. */
  addConfigGet(txIndex: number): void {
    const at = txIndex - this.skew;
    if (at >= 0) this.configAt.add(at);
  }

  /** A guarded command was queued; an introspection command's guard (text rewrites) wins over a script's. */
  guarded(g: GuardOptions): void {
    if (this.guard === null || g.text) this.guard = g;
  }

  /** A request of the transaction that Redis will not see (answered before this middleware). */
  dropped(): void {
    this.skew++;
  }

  /** A nested MULTI: Redis answers an error and queues nothing, but the index it had may be reset. */
  nestedMulti(): void {
    this.verifyAll = true;
  }

  /** A queued command whose reply is rewritten: remember its place. */
  add(txIndex: number, kind: ReplyKind): void {
    this.kinds.add(kind);
    const at = txIndex - this.skew;
    if (at < 0 || this.positions.has(at)) this.verifyAll = true;
    else this.positions.set(at, kind);
  }
}

/**
 * Mark of an address-bearing request sent between MULTI and EXEC. Its reply is normally `+QUEUED`
 * (the real one comes in the EXEC array); anything else means Redis ran it at once — MULTI itself
 * had failed — and that reply is rewritten where it stands.
 */
export class QueuedMark {
  constructor(readonly kind: ReplyKind) {}

  /** True when `reply` is `+QUEUED`. */
  static isQueued(reply: Buffer): boolean {
    return reply.equals(QUEUED);
  }
}

/** Mark of the EXEC that ends a transaction holding address-bearing commands. */
export class ExecMark {
  constructor(readonly tx: Transaction) {}
}

/**
 * Mark of a request whose reply is guarded: a script's (EVAL, FCALL …), a CONFIG GET, or another
 * introspection command's. Queued in MULTI its reply is normally `+QUEUED` and the real one sits in
 * the EXEC array (`Transaction.guard`).
 */
export class GuardMark {
  constructor(
    readonly what: 'script' | 'config' | 'reply',
    readonly queued: boolean,
  ) {}
}
