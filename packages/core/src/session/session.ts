import type { Socket } from 'node:net';
import { ErrorCode, type ProtocolError, type SlotrelayError, clientTextOf } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ListenerInfo, SessionContext } from '../middleware/contract.js';
import type { Pipeline, SessionFlow } from '../middleware/pipeline.js';
import { DEFAULT_LIMITS, type RespLimits, RespType } from '../resp/constants.js';
import { decodeReply } from '../resp/decode.js';
import { encodeError, type Protocol } from '../resp/encode.js';
import { NESTED_ERROR, ReplyScanner } from '../resp/reply-scanner.js';
import { INLINE, NO_REPLY, RequestScanner } from '../resp/request-scanner.js';
import { type Batch, COMPLETE, type Frame, LOCAL, STREAM, Batch as BatchClass } from './frame.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { ANSWERED, E_HELLO, E_MONITOR, E_RESET, Entry, InFlight, PLAIN, PUBSUB } from './in-flight.js';
import { OrderedWriter } from './ordered-writer.js';
import { LentReads } from '../transport/tcp.js';

/** Tuning of one session. All sizes in bytes. */
export interface SessionOptions {
  limits?: Partial<RespLimits>;
  /** A frame split across chunks is held up to this size, then streamed unless someone must see it whole. */
  holdLimit?: number;
  /** Bytes queued toward one side before the other side stops being read. */
  maxQueuedBytes?: number;
  /** Requests awaiting replies before the client stops being read. */
  maxInFlight?: number;
  /**
   * The largest request the proxy holds whole (a watched command, which middleware must see whole);
   * a larger one is a protocol error that closes the connection. Default 1 MiB. Streamed requests
   * (every unwatched command) have no such cap.
   */
  maxWholeFrameBytes?: number;
}

/** Default `SessionOptions.maxWholeFrameBytes`. */
export const DEFAULT_MAX_WHOLE_FRAME_BYTES = 1024 * 1024;

/**
 * How long a closing session waits, once its last reply is written, for the client to take it and
 * close its side, before both sockets are destroyed: nothing stays half-open longer.
 */
export const CLOSE_GRACE_MS = 2000;

/**
 * Where a session gets its Redis connection. A connector that can should read the socket with
 * `session.upstreamReads`. A rejection with a `SlotrelayError` of code `SR_ERR_UPSTREAM` (the node is
 * unreachable: `upstreamDialError`) closes the session without a reply once it has a request for
 * Redis, as a client connected to that node directly would see; any other rejection (a config state
 * such as too few cluster members) reaches the client as `-ERR …` first.
 */
export type UpstreamConnector = (session: Session) => Promise<Socket>;

const EMPTY = Buffer.alloc(0);
/** `upstreamError` when Redis is unreachable: requests for it close the session without a reply. */
const UNREACHABLE = Buffer.alloc(0);

// Reasons to stop reading a socket; it resumes when none is left.
const P_DRAIN = 1;
const P_QUEUE = 2;
const P_INFLIGHT = 4;
const P_CLOSING = 8;

const REPLY_ON = 0;
const REPLY_OFF = 1;
const REPLY_SKIP = 2;

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

class Gate {
  private reasons = 0;
  constructor(private readonly stream: () => Socket | null) {}
  hold(reason: number): void {
    if (this.reasons === 0) this.stream()?.pause();
    this.reasons |= reason;
  }
  release(reason: number): void {
    if ((this.reasons & reason) === 0) return;
    this.reasons &= ~reason;
    if (this.reasons === 0) this.stream()?.resume();
  }
  /** Read again whatever the reasons (a closing session must see the peer's FIN). */
  open(): void {
    if (this.reasons === 0) return;
    this.reasons = 0;
    this.stream()?.resume();
  }
  get held(): boolean {
    return this.reasons !== 0;
  }
}

let nextSessionId = 1;

/**
 * One client connection and its own upstream connection to one Redis node (DESIGN.md "Data flow").
 *
 * Requests: chunk → RequestScanner (boundaries only) → batch → middleware → upstream, each request
 * pushing an in-flight entry. Replies: chunk → ReplyScanner → each reply consumes the head entry
 * (push frames, pub/sub messages and MONITOR lines consume none; CLIENT REPLY OFF/SKIP requests
 * expect none) → middleware → client, with locally answered replies spliced in at their place.
 * Both directions stop reading when the other side's buffers are full.
 */
export class Session {
  // The fields the fast lanes read on every chunk come first, so they share few cache lines: with
  // many sessions, a chunk of one usually finds its session cold, and each line is a memory stall.
  private closing = false;
  private closed = false;
  inTransaction = false;
  private replyMode = REPLY_ON;
  private upstreamError: Buffer | null = null;
  private monitor = false;
  private subscribed = 0;
  private replyStreaming = false;
  /** The client is paused because too many requests are in flight (mirrors `clientGate`, read per reply chunk). */
  private inflightHeld = false;
  /** The readers hold no frame in progress (mirrors `FrameReader.idle`, which only the general paths change). */
  private reqIdle = true;
  private repIdle = true;
  /** Some middleware wants every batch (the pipeline's, copied: constant for the session). */
  private readonly allRequests: boolean;
  private readonly allReplies: boolean;
  private readonly maxInFlight: number;
  private readonly inflight = new InFlight();
  private readonly reqReader: FrameReader;
  private readonly repReader: FrameReader;
  private readonly reqScanner: RequestScanner;
  private readonly repScanner: ReplyScanner;
  private readonly writer: OrderedWriter;
  upstream: Socket | null = null;

  readonly id = nextSessionId++;
  readonly clientAddress: string;
  protocol: Protocol = 2;
  private readonly reqBatch = new BatchClass();
  private readonly repBatch = new BatchClass();
  private readonly clientGate: Gate;
  private readonly upstreamGate: Gate;
  /** The composed middleware, built on the first batch that needs it: most batches never do. */
  private flow: SessionFlow | null = null;
  private readonly maxQueuedBytes: number;

  private upQueue: Buffer[] = [];
  private upQueued = 0;
  /** Commands queued since MULTI (the next one's EXEC array index). */
  private queued = 0;
  private readonly subs: Array<Set<string>> = [new Set(), new Set(), new Set()];
  /**
   * The subscriptions and protocol as Redis will have them when it reads the next request (the
   * request side's view, ahead of the replies): in RESP2 with a subscription, Redis rejects every
   * command but (P|S)(UN)SUBSCRIBE, PING, QUIT and RESET, with no effect (no MULTI, no CLIENT REPLY).
   */
  private readonly reqSubs: Array<Set<string>> = [new Set(), new Set(), new Set()];
  private reqProtocol = 2;
  private readonly closeHandlers: Array<() => void> = [];
  /** The client sent QUIT: Redis reads nothing after it (CLIENT_CLOSE_AFTER_REPLY), nor does the session. */
  private quit = false;
  /** The client sent its FIN ('end'). */
  private clientEnded = false;
  /** Destroys both sockets if a closing session's client has not closed within `CLOSE_GRACE_MS`. */
  private closeTimer: NodeJS.Timeout | null = null;

  /**
   * Lent reads for the upstream socket (see `LentReads`): the next read reuses the buffer when the
   * reply lane wrote the chunk to the client whole and at once.
   */
  readonly upstreamReads = new LentReads((chunk) => this.onUpstreamRead(chunk));

  constructor(
    readonly client: Socket,
    readonly listener: ListenerInfo,
    readonly pipeline: Pipeline,
    private readonly connect: UpstreamConnector,
    readonly log: Logger,
    options: SessionOptions = {},
    /** The client socket's lent reads (`ServerFactory`), or null when it emits `'data'`. */
    private readonly clientReads: LentReads | null = null,
  ) {
    this.allRequests = pipeline.allRequests;
    this.allReplies = pipeline.allReplies;
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const holdLimit = options.holdLimit ?? 64 * 1024;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 65536;
    this.clientAddress = `${client.remoteAddress}:${client.remotePort}`;
    this.reqScanner = new RequestScanner(limits);
    this.reqScanner.watch = pipeline.table;
    this.repScanner = new ReplyScanner(limits);
    // A client can make the proxy hold a watched request whole: capped, or four connections sending
    // 256 MB INFO arguments took the proxy from 81 MB to 1.1 GB (issue 13). Redis's replies are not.
    const maxWhole = Math.max(holdLimit, options.maxWholeFrameBytes ?? DEFAULT_MAX_WHOLE_FRAME_BYTES);
    this.reqReader = new FrameReader(this.reqScanner, this.requestSink, holdLimit, maxWhole, 'command');
    this.repReader = new FrameReader(this.repScanner, this.replySink, holdLimit, limits.maxBulkBytes + 1024, 'reply');
    // Reads may come before `start()`: they wait in the queue for the upstream like any other.
    if (clientReads !== null) clientReads.onRead = (chunk) => this.onClientRead(chunk);
    this.clientGate = new Gate(() => this.client);
    this.upstreamGate = new Gate(() => this.upstream);
    this.writer = new OrderedWriter(
      client,
      this.maxQueuedBytes,
      (on) => (on ? this.upstreamGate.hold(P_DRAIN) : this.upstreamGate.release(P_DRAIN)),
      () => this.maybeFinish(),
    );
  }

  /** Start reading the client and dialing Redis. */
  start(): void {
    const c = this.client;
    c.setNoDelay(true);
    if (this.clientReads === null) c.on('data', this.onClientData);
    c.on('end', () => {
      // The client half-closed: Redis gets the FIN too (after every byte queued toward it), as it
      // would directly. It answers what it read whole and closes, which closes the session: a
      // request left incomplete gets no reply and keeps nothing open (issue 13).
      this.clientEnded = true;
      if (this.closed) this.lingerDone();
      this.closing = true;
      this.endUpstream();
      this.maybeFinish();
    });
    c.on('error', (err) => this.log.debug({ session: this.id, err: err.message }, 'client socket error'));
    c.on('close', () => this.destroy());
    this.connect(this).then(
      (sock) => this.attachUpstream(sock),
      (err: unknown) => this.upstreamFailed(err),
    );
  }

  /** Register a callback for when the session has closed. */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  /** Bytes this session holds in memory right now (held frames, queues, socket buffers). */
  bufferedBytes(): number {
    return (
      this.reqReader.bufferedBytes +
      this.repReader.bufferedBytes +
      this.upQueued +
      this.writer.bufferedBytes +
      (this.upstream?.writableLength ?? 0)
    );
  }

  /** True once the session has closed (or is closing its sockets). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests still waiting for a reply. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Stop reading the client, deliver the replies already due, then close (bounded by `timeoutMs`). */
  drain(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.onClose(resolve);
      this.clientGate.hold(P_CLOSING);
      this.closing = true;
      this.maybeFinish();
      setTimeout(() => this.destroy(), timeoutMs).unref();
    });
  }

  // ── middleware-facing operations ─────────────────────────────────────────────────────────────

  /** See `SessionContext.answer`. */
  answer(frame: Frame, reply: Buffer | Promise<Buffer>): void {
    if (frame.kind !== COMPLETE) throw new Error('answer() needs a complete request frame');
    frame.dropped = true;
    if (!frame.expectsReply) return; // the client asked for no reply (CLIENT REPLY OFF/SKIP)
    const e = (frame.entry ??= new Entry());
    e.kind = ANSWERED;
    e.local = reply;
  }

  /** See `SessionContext.close`. */
  close(reason: string): void {
    this.pushLocal(encodeError(reason.startsWith('ERR') ? reason : `ERR ${reason}`));
    this.closing = true;
    this.clientGate.hold(P_CLOSING);
    this.flushHeadLocals();
  }

  /** Per-middleware facade (see `SessionContext`). */
  contextFor(slot: number, middlewareName: string): SessionContext {
    const s = this;
    let log: Logger | undefined;
    return {
      id: this.id,
      get protocol() {
        return s.protocol;
      },
      get inTransaction() {
        return s.inTransaction;
      },
      clientAddress: this.clientAddress,
      listener: this.listener,
      get log() {
        return (log ??= s.log.child({ middleware: middlewareName, session: s.id }));
      },
      // Middleware see frames as `FrameView`s; every frame handed to them is one of this session's.
      answer: (f, r) => s.answer(f as Frame, r),
      mark(f, value) {
        if (!f.expectsReply) return; // no reply will come to carry the mark
        (((f as Frame).entry ??= new Entry()).marks ??= [])[slot] = value;
      },
      markOf(f) {
        return (f as Frame).entry?.marks?.[slot];
      },
      close: (reason) => s.close(reason),
    };
  }

  // ── requests: client → Redis ─────────────────────────────────────────────────────────────────

  /** A chunk read into the client's lent buffer: only the lane may use it in place; everything else gets a copy. */
  private onClientRead(chunk: Buffer): void {
    if (this.closing || this.closed) return;
    const up = this.upstream;
    if (up === null || up.writableLength !== 0) {
      this.onClientData(Buffer.from(chunk)); // the lane would queue it: give it a copy
      return;
    }
    if (this.requestLane(chunk)) {
      // The socket did not take the chunk at once: Node holds it until the write ends.
      if (up.writableLength !== 0) this.clientReads!.keep();
      return;
    }
    this.requestGeneral(Buffer.from(chunk)); // the lane already said no: do not ask it twice
  }

  private readonly onClientData = (chunk: Buffer): void => {
    if (this.closing || this.closed) return;
    if (!this.requestLane(chunk)) this.requestGeneral(chunk);
  };

  /** Requests the lane did not take: framed into a batch, through the middleware that wants them. */
  private requestGeneral(chunk: Buffer): void {
    const reader = this.reqReader;
    const err = reader.scan(chunk);
    const b = this.reqBatch;
    b.reset();
    const err2 = reader.assemble(chunk, b, err);
    this.reqIdle = reader.idle;
    if (b.count > 0) this.runRequests(b);
    // After QUIT Redis parses nothing more: no protocol error either.
    if (err2 && !this.quit) this.protocolFailure(err2);
  }

  /**
   * The fast lane for the common chunk: whole requests only, none that core or a middleware watches,
   * no transaction or CLIENT REPLY state to follow, and nothing in the pipeline that wants every batch.
   * Then there is nothing to decide per request: count them in flight and forward the chunk as it is —
   * no frame views, no batch, not even the scanner's per-frame records. Anything else takes the
   * general path, which scans the chunk again from its start.
   */
  private requestLane(chunk: Buffer): boolean {
    if (
      !this.reqIdle ||
      this.inTransaction ||
      this.replyMode !== REPLY_ON ||
      this.upstreamError !== null ||
      this.allRequests
    )
      return false;
    const n = this.reqScanner.countPlain(chunk);
    if (n === 0) return false;
    // Appended at the tail: no local reply can have come due at the head, nothing to flush.
    this.inflight.pushPlain(n);
    this.sendUp(chunk);
    if (this.inflight.size > this.maxInFlight) this.holdInflight();
    return true;
  }

  private runRequests(b: Batch): void {
    if (!this.pipeline.wantsRequests(b)) {
      this.requestsOut(b);
      return;
    }
    try {
      (this.flow ??= this.pipeline.attach(this)).requests(b);
    } catch (err) {
      this.pipelineFailed(err);
      return;
    }
    if (!b.delivered && !this.closed) this.pipelineFailed(new Error('a middleware did not pass the request batch on'));
  }

  /** Called by the pipeline with the batch its last request operator emitted. */
  requestsOut(b: Batch): void {
    b.delivered = true;
    let run: Buffer | null = null;
    let s = 0;
    let e = 0;
    const up = this.upstream;
    if (up && b.count > 1) up.cork();
    const inflight = this.inflight;
    for (let i = 0; i < b.count; i++) {
      const f = b.frames[i]!;
      if (this.upstreamError !== null && !f.dropped) {
        this.closing = true;
        // Redis is unreachable: the first request for it closes the session without a reply (after
        // the replies before it), as the client would see it directly; nothing after it is served.
        if (this.upstreamError === UNREACHABLE) break;
        // No Redis for a reason of config: every request gets the error, then the session closes.
        if (f.expectsReply && f.kind === COMPLETE) this.answer(f, this.upstreamError);
        else f.dropped = true;
      }
      if (f.dropped || f.replacement !== null) {
        if (run !== null) this.sendUp(s === 0 && e === run.length ? run : run.subarray(s, e));
        run = null;
        if (!f.dropped) {
          if (!Buffer.isBuffer(f.replacement)) throw new Error('a request can only be replaced by a Buffer');
          this.sendUp(f.replacement);
        }
        if (f.expectsReply) f.entry === null ? inflight.pushPlain() : inflight.push(f.entry);
        continue;
      }
      // The FIFO takes requests in the order they go out, after the middleware marked or answered them.
      if (f.expectsReply) f.entry === null ? inflight.pushPlain() : inflight.push(f.entry);
      if (run === f.buf && e === f.start) {
        e = f.end;
        continue;
      }
      if (run !== null) this.sendUp(s === 0 && e === run.length ? run : run.subarray(s, e));
      run = f.buf;
      s = f.start;
      e = f.end;
    }
    if (run !== null) this.sendUp(s === 0 && e === run.length ? run : run.subarray(s, e));
    if (up && b.count > 1) up.uncork();
    if (inflight.size > this.maxInFlight) this.holdInflight();
    this.flushHeadLocals();
  }

  private holdInflight(): void {
    this.inflightHeld = true;
    this.clientGate.hold(P_INFLIGHT);
  }

  private releaseInflight(): void {
    this.inflightHeld = false;
    this.clientGate.release(P_INFLIGHT);
  }

  private sendUp(bytes: Buffer): void {
    const up = this.upstream;
    if (up === null) {
      if (this.upstreamError !== null) return;
      this.upQueue.push(bytes);
      this.upQueued += bytes.length;
      if (this.upQueued > this.maxQueuedBytes) this.clientGate.hold(P_QUEUE);
      return;
    }
    if (!up.write(bytes)) this.clientGate.hold(P_DRAIN);
  }

  private readonly requestSink: FrameSink = {
    onFrame: (batch, f, i) => {
      const sc = this.reqScanner;
      if (this.quit) {
        f.dropped = true; // after QUIT: Redis would never read it
        return;
      }
      f.flags = sc.flags[i]!;
      f.argc = sc.argcs[i]!;
      f.nameOff = sc.nameOffs[i]!;
      f.nameLen = sc.nameLens[i]!;
      const cmd =
        f.flags & INLINE
          ? this.matchInline(f)
          : f.nameLen > 0
            ? this.pipeline.table.match(f.buf, f.start + f.nameOff, f.nameLen)
            : undefined;
      if (cmd !== undefined) {
        f.command = cmd;
        batch.interesting++;
      }
      this.track(f, cmd);
    },
    mustHold: (prefix) => {
      const sc = this.reqScanner;
      if (sc.curInline) return true; // inline lines are bounded (64 KB) and must be parsed whole
      if (sc.curNameLen < 0) return false;
      return this.pipeline.table.match(prefix, sc.curNameOff, sc.curNameLen) !== undefined;
    },
    onStreamStart: (_batch, f) => {
      const sc = this.reqScanner;
      f.argc = sc.curArgc;
      this.track(f, undefined);
    },
    onStreamEnd: () => {},
  };

  /**
   * The watched name an inline command spells once decoded as Redis decodes it (`"cluster" nodes`,
   * `"\x63luster" nodes` are CLUSTER NODES), so no quoting hides a command from the middleware.
   * Throws `ProtocolError` on unbalanced quotes, as Redis refuses the line.
   */
  private matchInline(f: Frame): string | undefined {
    const args = f.args();
    f.argc = args.length;
    if (args.length === 0) {
      f.flags |= NO_REPLY; // Redis ignores a blank line
      return undefined;
    }
    const name = args[0]!;
    return this.pipeline.table.match(name, 0, name.length);
  }

  /** Decide what reply a request expects; requests core must follow get an entry (pushed in `requestsOut`). */
  private track(f: Frame, cmd: string | undefined): void {
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
    if (cmd === 'QUIT') {
      // Redis answers (unless CLIENT REPLY silences it), closes, and reads nothing after it.
      this.quit = true;
      this.closing = true;
    }
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
      for (const set of this.reqSubs) set.clear();
      this.reqProtocol = 2;
      if (skipped) {
        this.resetState();
        return;
      }
    }
    if (cmd !== undefined && !this.inTransaction) this.trackRequestState(f, cmd);
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

  // ── replies: Redis → client ──────────────────────────────────────────────────────────────────

  /** A chunk read into the upstream's lent buffer: only the lane may use it in place; everything else gets a copy. */
  private onUpstreamRead(chunk: Buffer): void {
    if (this.closed) return;
    const client = this.client;
    if (client.writableLength !== 0 || !this.writer.idle) {
      this.onUpstreamData(Buffer.from(chunk)); // the lane would queue it: give it a copy
      return;
    }
    if (this.replyLane(chunk)) {
      // The socket did not take the chunk at once: Node holds it until the write ends.
      if (client.writableLength !== 0) this.upstreamReads.keep();
      return;
    }
    this.replyGeneral(Buffer.from(chunk)); // the lane already said no: do not ask it twice
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    if (this.closed) return;
    if (!this.replyLane(chunk)) this.replyGeneral(chunk);
  };

  /** Replies the lane did not take: framed into a batch, through the middleware that wants them. */
  private replyGeneral(chunk: Buffer): void {
    const reader = this.repReader;
    const scanError = reader.scan(chunk);
    const b = this.repBatch;
    b.reset();
    const err = reader.assemble(chunk, b, scanError);
    this.repIdle = reader.idle;
    if (b.count > 0 && !this.pipeline.wantsReplies(b)) {
      this.repliesOut(b);
    } else if (b.count > 0) {
      try {
        (this.flow ??= this.pipeline.attach(this)).replies(b);
      } catch (e) {
        this.pipelineFailed(e);
        return;
      }
      if (!b.delivered && !this.closed) this.pipelineFailed(new Error('a middleware did not pass the reply batch on'));
    }
    if (err) this.upstreamBroken(`malformed reply from Redis: ${err.message}`);
  }

  /**
   * The fast lane for replies: whole frames only, none an error or out-of-band (no pub/sub, MONITOR
   * or push in play), each answering a plain request with no local reply due in between, and no
   * middleware wanting every batch. Then the chunk goes to the client as it is.
   */
  private replyLane(chunk: Buffer): boolean {
    if (!this.repIdle || this.monitor || this.subscribed > 0 || this.allReplies || this.inflight.answered > 0)
      return false;
    const atHead = this.inflight.plainAtHead();
    if (atHead === 0) return false;
    const n = this.repScanner.countPlain(chunk);
    if (n === 0 || atHead < n) return false;
    this.inflight.shiftPlain(n);
    if (this.inflightHeld && this.inflight.size <= this.maxInFlight) this.releaseInflight();
    this.writer.write(chunk);
    if (this.closing) this.maybeFinish();
    return true;
  }

  /** Called by the pipeline with the batch its last reply operator emitted. */
  repliesOut(b: Batch): void {
    b.delivered = true;
    const w = this.writer;
    if (b.count === 1) {
      const f = b.frames[0]!;
      if (f.replacement === null) {
        w.write(f.start === 0 && f.end === f.buf.length ? f.buf : f.buf.subarray(f.start, f.end));
        if (this.closing) this.maybeFinish();
        return;
      }
    }
    w.cork();
    let run: Buffer | null = null;
    let s = 0;
    let e = 0;
    for (let i = 0; i < b.count; i++) {
      const f = b.frames[i]!;
      if (f.replacement !== null) {
        if (run !== null) w.write(run.subarray(s, e));
        run = null;
        if (Buffer.isBuffer(f.replacement)) w.write(f.replacement);
        else w.writeLater(f.replacement);
        continue;
      }
      if (run === f.buf && e === f.start) {
        e = f.end;
        continue;
      }
      if (run !== null) w.write(run.subarray(s, e));
      run = f.buf;
      s = f.start;
      e = f.end;
    }
    if (run !== null) w.write(s === 0 && e === run.length ? run : run.subarray(s, e));
    w.uncork();
    if (this.closing) this.maybeFinish();
  }

  private readonly replySink: FrameSink = {
    onFrame: (batch, f, i) => {
      const sc = this.repScanner;
      f.flags = sc.flags[i]!;
      f.type = sc.types[i]!;
      this.consumeReply(batch, f, f.buf, f.start, f.end);
    },
    onStreamEnd: (batch) => {
      // Replies answered locally after a streamed reply may follow it now.
      this.replyStreaming = false;
      this.appendHeadLocals(batch);
    },
    mustHold: (prefix) => {
      const t = this.repScanner.frameType;
      if (t === RespType.Error) return true;
      if (this.isOutOfBand(t, prefix, 0, prefix.length)) return false;
      return this.replyEntry(false)?.marks != null;
    },
    onStreamStart: (batch, f, prefix) => {
      f.type = this.repScanner.frameType;
      this.replyStreaming = true;
      this.consumeReply(batch, f, prefix, 0, prefix.length);
    },
  };

  /** Pair a reply (or the first piece of a streamed one) with its request, or classify it out-of-band. */
  private consumeReply(batch: Batch, f: Frame, buf: Buffer, start: number, end: number): void {
    const t = f.type;
    if (t === RespType.Error || f.flags & NESTED_ERROR) batch.interesting++;
    if (this.isOutOfBand(t, buf, start, end)) {
      this.pubsubAccounting(batch, f, buf, start, end);
      return;
    }
    const e = this.replyEntry(true);
    if (e === undefined) {
      this.log.warn({ session: this.id }, 'reply from Redis with no request waiting for it');
      return;
    }
    this.inflight.shift();
    if (this.inflightHeld && this.inflight.size <= this.maxInFlight) this.releaseInflight();
    if (e !== PLAIN) {
      f.entry = e;
      if (e.marks !== null) batch.marked++;
      if (e.core !== 0) this.coreReply(e, t);
    }
    if (f.kind === COMPLETE) this.appendHeadLocals(batch);
  }

  /** The entry the next reply consumes: the head, after dropping satisfied "unsubscribe all" entries. */
  private replyEntry(drop: boolean): Entry | undefined {
    let i = 0;
    let e = this.inflight.slotAt(0);
    while (e !== undefined && e.kind === PUBSUB && e.expected === -1 && e.seen > 0) {
      if (drop) this.inflight.shift();
      else i++;
      e = this.inflight.slotAt(drop ? 0 : i);
    }
    return e;
  }

  private isOutOfBand(t: number, buf: Buffer, start: number, end: number): boolean {
    if (t === RespType.Push) return true;
    if (this.monitor && t === RespType.SimpleString) {
      const c = buf[start + 1];
      return c !== undefined && c >= 0x30 && c <= 0x39; // MONITOR lines start with a timestamp
    }
    if (t === RespType.Array && (this.subscribed > 0 || this.inflight.peek()?.kind === PUBSUB)) {
      // RESP2 subscribed mode: messages and confirmations are arrays led by their kind.
      const w = firstWord(buf, start, end);
      return w !== null && (MESSAGE_WORDS.has(w) || PUBSUB_WORDS.includes(w));
    }
    return false;
  }

  /** Track subscriptions from confirmations, so "unsubscribe all" knows how many to expect. */
  private pubsubAccounting(batch: Batch, f: Frame, buf: Buffer, start: number, end: number): void {
    const w = firstWord(buf, start, end);
    if (w === null) return;
    const k = PUBSUB_WORDS.indexOf(w);
    if (k < 0 || f.kind !== COMPLETE) return;
    const items = decodeReply(buf, start, end).items;
    const ch = items?.[1]?.data ?? null;
    const set = this.subs[k % 3]!;
    const before = set.size;
    if (ch !== null) {
      if (k < 3) set.add(ch.toString('latin1'));
      else set.delete(ch.toString('latin1'));
    }
    this.subscribed += set.size - before;
    const e = this.inflight.peek();
    if (e !== undefined && e.kind === PUBSUB && e.pubsubKind === k) {
      if (e.expected === -1) e.expected = Math.max(1, before);
      if (++e.seen >= e.expected) {
        this.inflight.shift();
        this.appendHeadLocals(batch);
      }
    }
  }

  private coreReply(e: Entry, t: number): void {
    const ok = t !== RespType.Error && t !== RespType.BlobError;
    if (e.core & E_HELLO && ok && (e.protover === 2 || e.protover === 3)) this.protocol = e.protover;
    if (e.core & E_MONITOR && t === RespType.SimpleString) this.monitor = true;
    if (e.core & E_RESET && ok) this.resetState();
  }

  private reqSubscribed(): boolean {
    const [a, b, c] = this.reqSubs;
    return a!.size + b!.size + c!.size > 0;
  }

  /** Follow, on the request side, what the pub/sub context of Redis depends on (see `reqSubs`). */
  private trackRequestState(f: Frame, cmd: string): void {
    if (cmd === 'HELLO') {
      const v = f.argc > 1 ? f.args()[1]!.toString('latin1') : '';
      if (v === '2' || v === '3') this.reqProtocol = Number(v);
      return;
    }
    const k = PUBSUB_COMMANDS.indexOf(cmd);
    // Not SSUBSCRIBE: it fails when a channel is not this node's (MOVED, CROSSSLOT), which the
    // request side cannot know; counting it would ignore a MULTI that Redis then runs.
    if (k < 0 || k % 3 === 2 || f.argc < 1) return;
    const set = this.reqSubs[k % 3]!;
    const args = f.args();
    if (k >= 3 && args.length === 1) set.clear();
    for (let i = 1; i < args.length; i++) {
      const ch = args[i]!.toString('latin1');
      if (k < 3) set.add(ch);
      else set.delete(ch);
    }
  }

  /** What RESET resets of the state core follows. */
  private resetState(): void {
    this.protocol = 2;
    this.monitor = false;
    for (const s of this.subs) s.clear();
    this.subscribed = 0;
  }

  /** Queue a reply of the proxy's own behind everything in flight. */
  private pushLocal(reply: Buffer): void {
    const e = new Entry();
    e.kind = ANSWERED;
    e.local = reply;
    this.inflight.push(e);
  }

  /** Splice replies answered locally that are now at the head into a reply batch. */
  private appendHeadLocals(batch: Batch): void {
    if (this.inflight.answered === 0) return;
    let e = this.inflight.peek();
    while (e !== undefined && e.kind === ANSWERED) {
      this.inflight.shift();
      const local = e.local!;
      if (Buffer.isBuffer(local)) batch.push(local, 0, local.length, LOCAL);
      else batch.push(EMPTY, 0, 0, LOCAL).replacement = local;
      e = this.inflight.peek();
    }
  }

  /** Write replies answered locally that are now at the head (outside a reply batch). */
  private flushHeadLocals(): void {
    if (this.replyStreaming || this.closed) return;
    let e = this.inflight.answered === 0 ? undefined : this.inflight.peek();
    while (e !== undefined && e.kind === ANSWERED) {
      this.inflight.shift();
      const local = e.local!;
      if (Buffer.isBuffer(local)) this.writer.write(local);
      else this.writer.writeLater(local);
      e = this.inflight.peek();
    }
    this.maybeFinish();
  }

  // ── upstream lifecycle and failures ──────────────────────────────────────────────────────────

  private attachUpstream(sock: Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    this.upstream = sock;
    sock.setNoDelay(true);
    sock.on('data', this.onUpstreamData);
    sock.on('drain', () => this.clientGate.release(P_DRAIN));
    sock.on('error', (err) => this.log.debug({ session: this.id, err: err.message }, 'upstream socket error'));
    sock.on('close', () => this.upstreamBroken('connection to Redis lost'));
    if (this.upQueue.length > 0) {
      sock.cork();
      for (const b of this.upQueue) this.sendUp(b);
      sock.uncork();
      this.upQueue = [];
      this.upQueued = 0;
    }
    this.clientGate.release(P_QUEUE);
    if (this.clientEnded) this.endUpstream();
  }

  /** Pass the client's half-close on to Redis (a no-op until the upstream is attached). */
  private endUpstream(): void {
    const up = this.upstream;
    if (up !== null && !this.closed && this.upstreamError === null) up.end();
  }

  private upstreamFailed(err: unknown): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    this.upQueue = [];
    this.upQueued = 0;
    this.clientGate.release(P_QUEUE);
    // By code, not class: a connector built against another copy of core still counts.
    if ((err as SlotrelayError | null)?.code === ErrorCode.Upstream) {
      // Once per session, so debug: whoever dials (the listener) logs the outage once per transition.
      this.log.debug(
        { session: this.id, err: message },
        'Redis unreachable: the session closes without a reply at its first request for Redis',
      );
      this.upstreamError = UNREACHABLE;
      this.abandonPending(false);
      return;
    }
    this.log.warn({ session: this.id, err: message }, 'no upstream for session');
    this.upstreamError = encodeError(`ERR ${clientTextOf(err)}`);
    if (this.inflight.answerAllRemote(this.upstreamError) > 0) this.closing = true;
    this.flushHeadLocals();
  }

  private upstreamBroken(message: string): void {
    if (this.closed || this.upstreamError !== null) return;
    this.log.debug(
      { session: this.id, err: message },
      'upstream lost: closing the session without a reply to the requests in flight',
    );
    this.upstreamError = UNREACHABLE;
    this.upstream?.destroy();
    this.abandonPending(true);
  }

  /**
   * Requests still waiting on Redis will get no reply: the replies due before them are delivered,
   * then the session closes without a word (no `-ERR` a client would take for the command's answer:
   * a closed connection is what cluster clients retry, as they would on a dead node directly).
   */
  private abandonPending(close: boolean): void {
    // A reply cut off mid-stream: nothing more may follow it on this connection.
    if (!this.replyStreaming) this.flushHeadLocals();
    if (this.inflight.size > 0) {
      this.inflight.clear();
      close = true;
    }
    if (!close) return;
    this.closing = true;
    this.clientGate.hold(P_CLOSING);
    this.maybeFinish();
  }

  private protocolFailure(err: ProtocolError): void {
    this.log.info({ session: this.id, client: this.clientAddress, err: err.message }, 'client protocol error');
    // CLIENT REPLY OFF/SKIP silences this error too, as in Redis (addReply* checks the reply flags).
    // Latin-1, not encodeError's UTF-8: the text may hold the raw byte Redis quotes (`got '\x11'`).
    if (this.replyMode === REPLY_ON) this.pushLocal(Buffer.from(`-ERR Protocol error: ${err.message}\r\n`, 'latin1'));
    // The client is still read (what it sends dropped, as `closing`), not paused: its FIN must reach
    // Redis, which then answers what it read whole and closes — a reply the session waits for and
    // Redis never sends (a command blocked, a reply mode not followed) must not hang the connection.
    this.closing = true;
    this.flushHeadLocals();
  }

  /** @internal The pipeline broke (an operator threw): answer the client and close. */
  pipelineFailed(err: unknown): void {
    if (this.closed) return;
    const msg = err instanceof Error ? err.message : String(err);
    this.log.error({ session: this.id, err: msg }, 'middleware pipeline failed; closing session');
    this.client.write(encodeError(`ERR slotrelay: internal error: ${msg}`));
    this.finish();
  }

  private maybeFinish(): void {
    if (!this.closing || this.closed || this.inflight.size > 0 || !this.writer.idle) return;
    this.finish();
  }

  /**
   * Close both sockets, leaving nothing half-open: Redis at once (nothing more is due from it); the
   * client once it has our FIN and we have its own, reading (and dropping) whatever it still sends —
   * closing with unread bytes would reset the connection and could cost the client the last reply.
   * A client that does not close within `CLOSE_GRACE_MS` (does not read, keeps sending) is destroyed.
   */
  private finish(): void {
    this.closed = true;
    this.upstream?.destroy();
    const c = this.client;
    c.end();
    c.once('finish', () => this.lingerDone());
    this.lingerDone();
    this.clientGate.open();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
    this.finishClose();
  }

  /** Both FINs exchanged (or the client left): the client socket can go. */
  private lingerDone(): void {
    if (this.clientEnded && this.client.writableFinished) this.destroy();
  }

  private destroy(): void {
    if (!this.closed) {
      this.closed = true;
      this.finishClose();
    }
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.client.destroy();
    this.upstream?.destroy();
  }

  private finishClose(): void {
    this.flow?.close();
    const hs = this.closeHandlers.splice(0);
    for (const h of hs) h();
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
