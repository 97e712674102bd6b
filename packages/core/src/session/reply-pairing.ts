import { RespType } from '../resp/constants.js';
import { NESTED_ERROR } from '../resp/reply-scanner.js';
import type { ConnectionState } from './connection-state.js';
import { type Batch, COMPLETE, type Frame, LOCAL } from './frame.js';
import { P_INFLIGHT, type Gate } from './gate.js';
import { ANSWERED, Entry, InFlight, PLAIN, PUBSUB } from './in-flight.js';
import type { OrderedWriter } from './ordered-writer.js';
import type { SessionStats } from './stats.js';

const EMPTY = Buffer.alloc(0);

/**
 * Pairs one session's replies with its requests: the in-flight FIFO (each reply consumes the head;
 * push frames, pub/sub messages and MONITOR lines consume none; CLIENT REPLY OFF/SKIP requests
 * expect none), and the replies answered locally, spliced in at their place. The session is its
 * consumer: a connection shared by many sessions keeps one pairing per session and hands each its
 * replies. Pauses the client (`P_INFLIGHT`) while more than `maxInFlight` requests wait.
 */
export class ReplyPairing {
  readonly inflight = new InFlight();
  /** The client is paused because too many requests are in flight (read per reply chunk). */
  private held = false;

  constructor(
    private readonly state: ConnectionState,
    /** Where local replies outside a reply batch are written: the session's client writer. */
    private readonly writer: OrderedWriter,
    private readonly clientGate: Gate,
    private readonly maxInFlight: number,
    private readonly stats: SessionStats,
    /** Told of a reply from Redis that no request waits for (logged; it is dropped). */
    private readonly unpaired: () => void,
  ) {}

  /** After requests joined the FIFO: stop reading the client while too many wait. */
  holdIfFull(): void {
    if (this.inflight.size > this.maxInFlight) {
      this.held = true;
      this.clientGate.hold(P_INFLIGHT);
    }
  }

  /** After replies left the FIFO: read the client again once there is room. */
  releaseIfRoom(): void {
    if (this.held && this.inflight.size <= this.maxInFlight) {
      this.held = false;
      this.clientGate.release(P_INFLIGHT);
    }
  }

  /** Pair a reply (or the first piece of a streamed one) with its request, or classify it out-of-band. */
  consume(batch: Batch, f: Frame, buf: Buffer, start: number, end: number): void {
    const t = f.type;
    this.stats.replies++;
    if (t === RespType.Error || f.flags & NESTED_ERROR) batch.interesting++;
    if (this.state.isOutOfBand(t, buf, start, end, this.inflight.peek()?.kind === PUBSUB)) {
      if (this.state.confirmPubsub(f, buf, start, end, this.inflight.peek())) {
        this.inflight.shift();
        this.appendHeadLocals(batch);
      }
      return;
    }
    const e = this.headEntry(true);
    if (e === undefined) {
      this.unpaired();
      return;
    }
    this.inflight.shift();
    this.releaseIfRoom();
    if (e !== PLAIN) {
      f.entry = e;
      if (e.marks !== null) batch.marked++;
      if (e.core !== 0) this.state.onCoreReply(e, t);
    }
    if (f.kind === COMPLETE) this.appendHeadLocals(batch);
  }

  /** Must a reply of type `t` starting with `prefix` be held whole (someone must see it)? */
  mustHold(t: number, prefix: Buffer): boolean {
    if (t === RespType.Error) return true;
    if (this.state.isOutOfBand(t, prefix, 0, prefix.length, this.inflight.peek()?.kind === PUBSUB)) return false;
    return this.headEntry(false)?.marks != null;
  }

  /** Queue a reply of the proxy's own behind everything in flight. */
  pushLocal(reply: Buffer): void {
    const e = new Entry();
    e.kind = ANSWERED;
    e.local = reply;
    this.inflight.push(e);
  }

  /** Splice replies answered locally that are now at the head into a reply batch. */
  appendHeadLocals(batch: Batch): void {
    if (this.inflight.answered === 0) return;
    let e = this.inflight.peek();
    while (e !== undefined && e.kind === ANSWERED) {
      this.inflight.shift();
      this.stats.replies++;
      const local = e.local!;
      if (Buffer.isBuffer(local)) batch.push(local, 0, local.length, LOCAL);
      else batch.push(EMPTY, 0, 0, LOCAL).replacement = local;
      e = this.inflight.peek();
    }
  }

  /** Write replies answered locally that are now at the head (outside a reply batch). */
  writeHeadLocals(): void {
    let e = this.inflight.answered === 0 ? undefined : this.inflight.peek();
    while (e !== undefined && e.kind === ANSWERED) {
      this.inflight.shift();
      this.stats.replies++;
      const local = e.local!;
      if (Buffer.isBuffer(local)) this.writer.write(local);
      else this.writer.writeLater(local);
      e = this.inflight.peek();
    }
  }

  /** The entry the next reply consumes: the head, after dropping satisfied "unsubscribe all" entries. */
  private headEntry(drop: boolean): Entry | undefined {
    let i = 0;
    let e = this.inflight.slotAt(0);
    while (e !== undefined && e.kind === PUBSUB && e.expected === -1 && e.seen > 0) {
      if (drop) this.inflight.shift();
      else i++;
      e = this.inflight.slotAt(drop ? 0 : i);
    }
    return e;
  }
}

/** Answer a complete request locally (see `SessionContext.answer`): it goes nowhere, its reply takes its FIFO slot. */
export function answerFrame(frame: Frame, reply: Buffer | Promise<Buffer>): void {
  if (frame.kind !== COMPLETE) throw new Error('answer() needs a complete request frame');
  frame.dropped = true;
  if (!frame.expectsReply) return; // the client asked for no reply (CLIENT REPLY OFF/SKIP)
  const e = (frame.entry ??= new Entry());
  e.kind = ANSWERED;
  e.local = reply;
}
