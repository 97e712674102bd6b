import { RespType } from '../resp/constants.js';
import { decodeReply } from '../resp/decode.js';
import type { Protocol } from '../resp/encode.js';
import { NO_REPLY } from '../resp/request-scanner.js';
import { COMPLETE, type Frame } from './frame.js';
import { E_HELLO, E_MONITOR, E_RESET, Entry, PUBSUB } from './in-flight.js';

export const REPLY_ON = 0;
export const REPLY_OFF = 1;
export const REPLY_SKIP = 2;

/** Confirmation words of pub/sub, in the order of `PUBSUB_COMMANDS`. */
const PUBSUB_WORDS = ['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe'];
const PUBSUB_COMMANDS = PUBSUB_WORDS.map((w) => w.toUpperCase());
const MESSAGE_WORDS = new Set(['message', 'pmessage', 'smessage']);

/** The commands whose requests core itself must see to pair replies correctly. */
export const CORE_COMMANDS: readonly string[] = [
  ...PUBSUB_COMMANDS,
  'CLIENT',
  'HELLO',
  'MONITOR',
  'RESET',
  'MULTI',
  'EXEC',
  'DISCARD',
  'QUIT',
];

/**
 * What Redis remembers about one client connection that decides how its replies pair with its
 * requests: MULTI, CLIENT REPLY, HELLO's protocol, MONITOR, RESET, QUIT and pub/sub subscriptions.
 * Pure (no sockets): the session feeds it each watched request (`trackRequest`) and each reply to
 * a request core follows (`onCoreReply`), and asks it whether a chunk may take a fast lane — the
 * lane guards live here, beside the flags they depend on, so a new flag cannot miss them.
 */
export class ConnectionState {
  // What the lane guards read come first: with many sessions each line is a memory stall.
  inTransaction = false;
  replyMode = REPLY_ON;
  /** The reply side: MONITOR confirmed by Redis. */
  monitor = false;
  /** The reply side: subscriptions Redis confirmed, all kinds. */
  subscribed = 0;
  /** The reply side: the protocol Redis answers in (after HELLO's reply). */
  protocol: Protocol = 2;
  /** The client sent QUIT: Redis reads nothing after it (CLIENT_CLOSE_AFTER_REPLY), nor does the session. */
  quit = false;
  /** Commands queued since MULTI (the next one's EXEC array index). */
  private queued = 0;
  private subs: Array<Set<string>> | null = null;
  /**
   * The subscriptions and protocol as Redis will have them when it reads the next request (the
   * request side's view, ahead of the replies): in RESP2 with a subscription, Redis rejects every
   * command but (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET, with no effect (no MULTI, no CLIENT REPLY).
   */
  private reqSubs: Array<Set<string>> | null = null;
  private reqProtocol = 2;

  /** May a chunk of whole plain requests go upstream as it is? (No transaction or reply mode to follow.) */
  get requestLaneOpen(): boolean {
    return !this.inTransaction && this.replyMode === REPLY_ON;
  }

  /** May a chunk of whole plain replies go to the client as it is? (No MONITOR line or pub/sub message can be in it.) */
  get replyLaneOpen(): boolean {
    return !this.monitor && this.subscribed === 0;
  }

  /** Redis's `timeout` spares this client (CLIENT_PUBSUB, a MONITOR being a replica-like client). */
  get idleExempt(): boolean {
    return this.monitor || this.subscribed > 0;
  }

  /**
   * Decide what reply a request expects (`f.expectsReply`, and `f.entry` for those core must follow)
   * and follow its effect on the connection. `cmd` is the watched name the request spells, if any.
   */
  trackRequest(f: Frame, cmd: string | undefined): void {
    if (f.flags & NO_REPLY) {
      // An empty request (a blank line, `*0`, `*-1`) still resets the client in Redis
      // (resetClient), which ends a pending CLIENT REPLY SKIP outside a transaction.
      if (this.replyMode === REPLY_SKIP && !this.inTransaction) this.replyMode = REPLY_ON;
      return;
    }
    // With arguments these are arity errors: one error reply, no effect (`RESET\rEXISTS k` is RESET
    // with two arguments to Redis's sdssplitargs, for which \r is a space).
    if (
      f.argc !== 1 &&
      (cmd === 'RESET' || cmd === 'MULTI' || cmd === 'EXEC' || cmd === 'DISCARD' || cmd === 'MONITOR')
    )
      cmd = undefined;
    if (
      cmd !== undefined &&
      cmd !== 'QUIT' &&
      cmd !== 'RESET' &&
      this.reqProtocol === 2 &&
      !PUBSUB_COMMANDS.includes(cmd) &&
      this.reqSubscribed()
    ) {
      cmd = undefined; // rejected in the pub/sub context: one error reply, no effect (processCommand)
    }
    // Redis answers QUIT (unless CLIENT REPLY silences it), closes, and reads nothing after it.
    if (cmd === 'QUIT') this.quit = true;
    // Transaction state holds whether or not the client wants replies (CLIENT REPLY OFF).
    if (cmd === 'MULTI') {
      // A nested MULTI is an error that leaves the open transaction as it is.
      if (!this.inTransaction) this.queued = 0;
      this.inTransaction = true;
    } else if (cmd === 'EXEC' || cmd === 'DISCARD' || cmd === 'RESET') {
      this.inTransaction = false;
    } else if (this.inTransaction) {
      f.txIndex = this.queued++;
    }
    if (cmd === 'RESET') {
      // RESET clears CLIENT REPLY OFF before it answers, but a SKIP already in force silences it.
      const skipped = this.replyMode === REPLY_SKIP;
      this.replyMode = REPLY_ON;
      this.reqSubs = null;
      this.reqProtocol = 2;
      if (skipped) {
        this.reset();
        return;
      }
    }
    if (cmd !== undefined && !this.inTransaction) this.trackSubscriptionContext(f, cmd);
    // Inside MULTI, CLIENT REPLY is queued, not applied (its effect at EXEC is not followed).
    if (
      cmd === 'CLIENT' &&
      f.argc === 3 &&
      !this.inTransaction &&
      f.args()[1]!.toString('latin1').toUpperCase() === 'REPLY'
    ) {
      const mode = f.args()[2]!.toString('latin1').toUpperCase();
      if (mode === 'OFF') {
        this.replyMode = REPLY_OFF;
        return;
      }
      if (mode === 'SKIP') {
        if (this.replyMode === REPLY_ON) this.replyMode = REPLY_SKIP;
        return;
      }
      if (mode === 'ON') this.replyMode = REPLY_ON;
    }
    if (this.replyMode !== REPLY_ON && cmd !== undefined && !this.inTransaction) {
      // Pub/sub confirmations are pushes, which CLIENT REPLY OFF/SKIP does not silence (Redis sets
      // CLIENT_PUSHING for them): the entry must wait for them, or they reach nobody (issue 13).
      const k = PUBSUB_COMMANDS.indexOf(cmd);
      if (k >= 0 && (f.argc > 1 || k >= 3)) {
        if (this.replyMode === REPLY_SKIP) this.replyMode = REPLY_ON;
        f.expectsReply = true;
        f.entry = pubsubEntry(k, f.argc - 1);
        return;
      }
    }
    if (this.replyMode === REPLY_OFF) return;
    if (this.replyMode === REPLY_SKIP) {
      this.replyMode = REPLY_ON;
      return;
    }
    f.expectsReply = true;
    if (cmd === undefined) return;
    switch (cmd) {
      case 'HELLO': {
        const e = (f.entry = new Entry());
        e.core = E_HELLO;
        if (f.argc > 1) e.protover = Number(f.args()[1]!.toString('latin1'));
        break;
      }
      case 'MONITOR':
        (f.entry = new Entry()).core = E_MONITOR;
        break;
      case 'RESET':
        (f.entry = new Entry()).core = E_RESET;
        break;
      default: {
        const k = PUBSUB_COMMANDS.indexOf(cmd);
        if (k < 0 || this.inTransaction) break;
        const n = f.argc - 1;
        if (n === 0 && k < 3) break; // SUBSCRIBE without channels: an arity error, one reply
        f.entry = pubsubEntry(k, n);
      }
    }
  }

  /** The reply of type `t` to a request whose entry has core flags (HELLO, MONITOR, RESET) arrived. */
  onCoreReply(e: Entry, t: number): void {
    const ok = t !== RespType.Error && t !== RespType.BlobError;
    if (e.core & E_HELLO && ok && (e.protover === 2 || e.protover === 3)) this.protocol = e.protover;
    if (e.core & E_MONITOR && t === RespType.SimpleString) this.monitor = true;
    if (e.core & E_RESET && ok) this.reset();
  }

  /**
   * Is this reply frame out of band (a push, a MONITOR line, a pub/sub message or confirmation),
   * consuming no request? `pubsubPending`: the next request waiting is a (P|S)(UN)SUBSCRIBE.
   */
  isOutOfBand(t: number, buf: Buffer, start: number, end: number, pubsubPending: boolean): boolean {
    if (t === RespType.Push) return true;
    if (this.monitor && t === RespType.SimpleString) {
      const c = buf[start + 1];
      return c !== undefined && c >= 0x30 && c <= 0x39; // MONITOR lines start with a timestamp
    }
    if (t === RespType.Array && (this.subscribed > 0 || pubsubPending)) {
      // RESP2 subscribed mode: messages and confirmations are arrays led by their kind.
      const w = firstWord(buf, start, end);
      return w !== null && (MESSAGE_WORDS.has(w) || PUBSUB_WORDS.includes(w));
    }
    return false;
  }

  /**
   * Follow the subscriptions an out-of-band frame confirms, so "unsubscribe all" knows how many to
   * expect; `head` is the request waiting first. True when the frame was the last confirmation
   * `head` waits for (it leaves the FIFO).
   */
  confirmPubsub(f: Frame, buf: Buffer, start: number, end: number, head: Entry | undefined): boolean {
    const w = firstWord(buf, start, end);
    if (w === null) return false;
    const k = PUBSUB_WORDS.indexOf(w);
    if (k < 0 || f.kind !== COMPLETE) return false;
    const ch = decodeReply(buf, start, end).items?.[1]?.data ?? null;
    const set = (this.subs ??= subscriptionSets())[k % 3]!;
    const before = set.size;
    if (ch !== null) {
      if (k < 3) set.add(ch.toString('latin1'));
      else set.delete(ch.toString('latin1'));
    }
    this.subscribed += set.size - before;
    if (head === undefined || head.kind !== PUBSUB || head.pubsubKind !== k) return false;
    if (head.expected === -1) head.expected = Math.max(1, before);
    return ++head.seen >= head.expected;
  }

  private reqSubscribed(): boolean {
    const r = this.reqSubs;
    return r !== null && r[0]!.size + r[1]!.size + r[2]!.size > 0;
  }

  /** Follow, on the request side, what the pub/sub context of Redis depends on (see `reqSubs`). */
  private trackSubscriptionContext(f: Frame, cmd: string): void {
    if (cmd === 'HELLO') {
      const v = f.argc > 1 ? f.args()[1]!.toString('latin1') : '';
      if (v === '2' || v === '3') this.reqProtocol = Number(v);
      return;
    }
    const k = PUBSUB_COMMANDS.indexOf(cmd);
    // Not SSUBSCRIBE: it fails when a channel is not this node's (MOVED, CROSSSLOT), which the
    // request side cannot know; counting it would ignore a MULTI that Redis then runs.
    if (k < 0 || k % 3 === 2 || f.argc < 1) return;
    const set = (this.reqSubs ??= subscriptionSets())[k % 3]!;
    const args = f.args();
    if (k >= 3 && args.length === 1) set.clear();
    for (let i = 1; i < args.length; i++) {
      const ch = args[i]!.toString('latin1');
      if (k < 3) set.add(ch);
      else set.delete(ch);
    }
  }

  /** What RESET resets of the reply side's state. */
  private reset(): void {
    this.protocol = 2;
    this.monitor = false;
    this.subs = null;
    this.subscribed = 0;
  }
}

/** The entry of a (P|S)(UN)SUBSCRIBE with `n` channels (0: "unsubscribe all"), `k` its index in `PUBSUB_COMMANDS`. */
function pubsubEntry(k: number, n: number): Entry {
  const e = new Entry();
  e.kind = PUBSUB;
  e.pubsubKind = k;
  e.expected = n > 0 ? n : -1;
  return e;
}

/** The first element of an array/push frame, lower-cased, when it is a short string; else null. */
export function firstWord(buf: Buffer, start: number, end: number): string | null {
  let p = start + 1;
  while (p < end && buf[p] !== 0x0a) p++;
  p++;
  if (p >= end) return null;
  const t = buf[p];
  if (t === RespType.BulkString) {
    let q = p + 1;
    let n = 0;
    while (q < end && buf[q]! >= 0x30 && buf[q]! <= 0x39) n = n * 10 + buf[q++]! - 0x30;
    q += 2;
    if (n > 16 || q + n > end) return null;
    return buf.toString('latin1', q, q + n).toLowerCase();
  }
  if (t === RespType.SimpleString) {
    const q = buf.indexOf(0x0d, p);
    if (q < 0 || q - p > 17) return null;
    return buf.toString('latin1', p + 1, q).toLowerCase();
  }
  return null;
}

/** Channels, patterns and shard channels: made at a session's first (un)subscribe, not for every session. */
function subscriptionSets(): Array<Set<string>> {
  return [new Set(), new Set(), new Set()];
}
