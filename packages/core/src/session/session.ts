import type { Socket } from 'node:net';
import type { ProtocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ListenerInfo, SessionContext } from '../middleware/contract.js';
import type { Pipeline, PipelineHost } from '../middleware/pipeline.js';
import { MiddlewareStage } from './middleware-stage.js';
import { type SessionOptions, sessionTuning } from './session-options.js';
import { encodeError, type Protocol } from '../resp/encode.js';
import type { LentReads } from '../transport/tcp.js';
import type { PathHost } from './chunk-route.js';
import { ClientLinger } from './client-linger.js';
import { ConnectionState, REPLY_ON } from './connection-state.js';
import type { Batch, Frame } from './frame.js';
import { Gate, P_CLOSING, P_DRAIN } from './gate.js';
import { idleSweeper, type IdleWatched } from './idle-sweeper.js';
import type { InFlight } from './in-flight.js';
import { LatencySampler } from './latency-sampler.js';
import { OrderedWriter } from './ordered-writer.js';
import { answerFrame, ReplyPairing } from './reply-pairing.js';
import { ReplyPath } from './reply-path.js';
import { RequestPath } from './request-path.js';
import { sessionContext } from './session-context.js';
import { type CloseReason, LATENCY_SAMPLE_EVERY, newSessionStats, type SessionStats } from './stats.js';
import { UpstreamWriter } from './upstream-writer.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import { SessionUpstream, type UpstreamHost } from './session-upstream.js';

/**
 * Where a session gets its Redis connection. A connector that can should read the socket with
 * `session.upstreamReads`. A rejection with a `SlotrelayError` of code `SR_ERR_UPSTREAM` (the node is
 * unreachable: `upstreamDialError`) closes the session without a reply once it has a request for
 * Redis, as a client connected to that node directly would see; any other rejection (a config state
 * such as too few cluster members) reaches the client as `-ERR …` first.
 */
export type UpstreamConnector = (session: Session) => Promise<Socket>;

/** What sessions without `SessionOptions.stats` count into: nobody reads it (cheaper than a branch per count). */
const UNCOUNTED = newSessionStats();

let nextSessionId = 1;

/**
 * One client connection and its own upstream connection to one Redis node (DESIGN.md "Data flow"):
 * its lifecycle (half-close, closing, close reasons, idle sweep) and what the middleware may do to
 * it. The data path is in its parts: `RequestPath` and `ReplyPath` (the two directions, each with
 * its fast lane), `ReplyPairing` (the in-flight FIFO), `ConnectionState` (what Redis remembers of
 * the client), `UpstreamWriter` and `OrderedWriter` (the two sockets' writers); its upstream
 * connection's lifecycle (dial or shared connections, pinning, failures) is `SessionUpstream`'s.
 * Both directions stop reading when the other side's buffers are full.
 */
export class Session implements PathHost, PipelineHost, IdleWatched, UpstreamHost {
  /** @internal No more requests are taken; the session closes once every reply due is written. */
  closing = false;
  /** @internal */
  closed = false;
  readonly id = nextSessionId++;
  readonly clientAddress: string;
  private readonly state = new ConnectionState();
  private readonly requests: RequestPath;
  private readonly replies: ReplyPath;
  private readonly pairing: ReplyPairing;
  private readonly inflight: InFlight;
  private readonly writer: OrderedWriter;
  private readonly up: UpstreamWriter;
  private readonly clientGate: Gate;
  private readonly upstreamGate: Gate;
  private readonly stats: SessionStats;
  private readonly middleware: MiddlewareStage;
  /** @internal */
  closeReason: CloseReason | null = null;
  private readonly closeHandlers: Array<() => void> = [];
  private readonly linger: ClientLinger;
  private idleMs = 0;
  /** Its upstream connection's lifecycle. */
  private readonly uplink: SessionUpstream<Session>;

  /** When the idle sweeper last saw the session busy (ms). */
  private idleSince = Date.now();

  constructor(
    readonly client: Socket,
    readonly listener: ListenerInfo,
    readonly pipeline: Pipeline,
    connect: UpstreamConnector,
    readonly log: Logger,
    options: SessionOptions = {},
    /** The client socket's lent reads (`ServerFactory`), or null when it emits `'data'`. */
    private readonly clientReads: LentReads | null = null,
  ) {
    const tuning = sessionTuning(options);
    const stats = (this.stats = options.stats ?? UNCOUNTED);
    this.clientAddress = `${client.remoteAddress}:${client.remotePort}`;
    this.clientGate = new Gate(() => this.client);
    this.linger = new ClientLinger(client, () => this.destroy());
    this.upstreamGate = new Gate(() => this.up.socket);
    const drain = (on: boolean) => {
      const side = this.up.side;
      if (side !== null) side.replyPressure(on);
      else if (on) this.upstreamGate.hold(P_DRAIN);
      else this.upstreamGate.release(P_DRAIN);
    };
    this.writer = new OrderedWriter(client, tuning.maxQueuedBytes, drain, () => this.maybeFinish(), stats);
    this.up = new UpstreamWriter(this.clientGate, tuning.maxQueuedBytes, stats);
    const unpaired = () => this.log.warn({ session: this.id }, 'reply from Redis with no request waiting for it');
    this.middleware = new MiddlewareStage(pipeline, this);
    this.pairing = new ReplyPairing(this.state, this.writer, this.clientGate, tuning.maxInFlight, stats, unpaired);
    this.inflight = this.pairing.inflight;
    const observe = stats.observeLatency;
    const sampled = observe !== undefined && this.id % LATENCY_SAMPLE_EVERY === 0;
    const latency = sampled ? new LatencySampler(this.inflight, observe) : null;
    const { state, middleware, pairing } = this;
    const parts = { host: this, middleware, state, pairing, stats, latency, tuning, pipeline };
    this.requests = new RequestPath(parts, this.up, clientReads);
    this.replies = new ReplyPath(parts, this.writer);
    this.uplink = new SessionUpstream<Session>(
      this,
      connect,
      options.sharedPool ?? null,
      this.up,
      this.replies,
      this.inflight,
      this.clientGate,
      this.linger,
      this.writer,
      stats,
    );
    // Reads may come before `start()`: they wait in the queue for the upstream like any other.
    if (clientReads !== null) clientReads.onRead = (chunk) => this.requests.read(chunk);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
  }

  /** Lent reads for the upstream socket (see `LentReads`). */
  get upstreamReads(): LentReads {
    return this.replies.upstreamReads;
  }

  /** The upstream connection, once dialed. */
  get upstream(): Socket | null {
    return this.up.socket;
  }

  /** The protocol Redis answers this client in: 2, or 3 after a successful `HELLO 3`. */
  get protocol(): Protocol {
    return this.state.protocol;
  }

  /** True between MULTI and EXEC/DISCARD as sent by the client. */
  get inTransaction(): boolean {
    return this.state.inTransaction;
  }

  /** Redis's `timeout` for this session, ms (0: never); settable while it runs. */
  get idleTimeoutMs(): number {
    return this.idleMs;
  }

  set idleTimeoutMs(ms: number) {
    this.idleMs = ms;
    if (ms > 0 && !this.closed) idleSweeper.watch(this);
    else idleSweeper.unwatch(this);
  }

  /** Start reading the client and dialing Redis. */
  start(): void {
    const c = this.client;
    c.setNoDelay(true);
    if (this.clientReads === null) c.on('data', this.requests.onData);
    c.on('end', () => {
      // The client half-closed: Redis gets the FIN too (after every byte queued toward it), as it
      // would directly. It answers what it read whole and closes, which closes the session: a
      // request left incomplete gets no reply and keeps nothing open (issue 13).
      this.linger.ended = true;
      if (this.closed) this.linger.check();
      this.beginClosing('client');
      if (!this.closed) this.up.end();
      this.maybeFinish();
    });
    c.on('error', (err) => this.log.debug({ session: this.id, err: err.message }, 'client socket error'));
    c.on('close', () => this.destroy());
    this.uplink.start();
  }

  /** True while the session is on a shared connection (not pinned to one of its own). */
  get shared(): boolean {
    return this.up.side !== null;
  }

  /** Register a callback for when the session has closed. */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeHandlers.push(fn);
  }

  /** Bytes this session holds in memory right now (held frames, queues, socket buffers). */
  bufferedBytes(): number {
    return this.requests.bufferedBytes + this.replies.bufferedBytes + this.up.bufferedBytes + this.writer.bufferedBytes;
  }

  /** True once the session has closed (or is closing its sockets). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests still waiting for a reply. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /**
   * Stop reading the client, deliver the replies already due, then close (bounded by `timeoutMs`).
   * `reason`: what the close counts as in `SessionStats.closed`.
   */
  drain(timeoutMs: number, reason: CloseReason = 'shutdown'): Promise<void> {
    return new Promise((resolve) => {
      this.onClose(resolve);
      this.clientGate.hold(P_CLOSING);
      this.beginClosing(reason);
      this.maybeFinish();
      setTimeout(() => this.destroy(), timeoutMs).unref();
    });
  }

  // ── middleware-facing operations ─────────────────────────────────────────────────────────────

  /** See `SessionContext.answer`. */
  answer(frame: Frame, reply: Buffer | Promise<Buffer>): void {
    answerFrame(frame, reply);
  }

  /** See `SessionContext.close`. */
  close(reason: string): void {
    this.pairing.pushLocal(encodeError(reason.startsWith('ERR') ? reason : `ERR ${reason}`));
    this.beginClosing('error');
    this.clientGate.hold(P_CLOSING);
    this.flushHeadLocals();
  }

  /** Per-middleware facade (see `SessionContext`). */
  contextFor(slot: number, middlewareName: string): SessionContext {
    return sessionContext(this, slot, middlewareName);
  }

  /** @internal Called by the pipeline with the batch its last request operator emitted. */
  requestsOut(b: Batch): void {
    this.requests.send(b);
  }

  /** @internal Called by the pipeline with the batch its last reply operator emitted. */
  repliesOut(b: Batch): void {
    this.replies.send(b);
  }

  /** @internal */
  beginClosing(reason: CloseReason): void {
    this.closing = true;
    this.closeReason ??= reason;
  }

  /** @internal Write replies answered locally that are now at the head (outside a reply batch). */
  flushHeadLocals(): void {
    if (this.replies.streaming || this.closed) return;
    this.pairing.writeHeadLocals();
    this.maybeFinish();
  }

  /** @internal The idle sweeper's look at this session (see `SessionOptions.idleTimeoutMs`). */
  sweep(now: number): void {
    const req = this.requests;
    if (req.active || this.inflight.size > 0 || this.state.idleExempt || !this.writer.idle) {
      req.active = false;
      this.idleSince = now;
      return;
    }
    if (now - this.idleSince < this.idleMs || this.closing) return;
    this.log.debug({ session: this.id, client: this.clientAddress }, 'idle timeout: closing the session');
    this.beginClosing('idle');
    this.clientGate.hold(P_CLOSING);
    this.maybeFinish();
  }

  // ── its upstream connection (SessionUpstream) ────────────────────────────────────────────────

  /** The listener fronts another node now: true if the session, still fresh, moved to its `pool` (see `SharedSide.repoint`). */
  repoint(pool: UpstreamPool): boolean {
    return this.uplink.repoint(pool);
  }

  /** @internal Redis is lost (see `SessionUpstream.upstreamBroken`). */
  upstreamBroken(message: string): void {
    this.uplink.upstreamBroken(message);
  }

  /** @internal */
  protocolFailure(err: ProtocolError): void {
    this.log.info({ session: this.id, client: this.clientAddress, err: err.message }, 'client protocol error');
    this.stats.protocolErrors++;
    // CLIENT REPLY OFF/SKIP silences this error too, as in Redis (addReply* checks the reply flags).
    // Latin-1, not encodeError's UTF-8: the text may hold the raw byte Redis quotes (`got '\x11'`).
    if (this.state.replyMode === REPLY_ON)
      this.pairing.pushLocal(Buffer.from(`-ERR Protocol error: ${err.message}\r\n`, 'latin1'));
    // The client is still read (what it sends dropped, as `closing`), not paused: its FIN must reach
    // Redis, which then answers what it read whole and closes — a reply the session waits for and
    // Redis never sends (a command blocked, a reply mode not followed) must not hang the connection.
    this.beginClosing('protocol');
    this.flushHeadLocals();
  }

  /** @internal The pipeline broke (an operator threw): answer the client and close. */
  pipelineFailed(err: unknown): void {
    if (this.closed) return;
    const msg = err instanceof Error ? err.message : String(err);
    this.log.error({ session: this.id, err: msg }, 'middleware pipeline failed; closing session');
    this.client.write(encodeError(`ERR slotrelay: internal error: ${msg}`));
    this.closeReason ??= 'error';
    this.finish();
  }

  /** @internal */
  maybeFinish(): void {
    if (!this.closing || this.closed || this.inflight.size > 0 || !this.writer.idle) return;
    this.finish();
  }

  /** Close both sockets: Redis at once (nothing more is due from it), the client as `ClientLinger` does. */
  private finish(): void {
    this.closed = true;
    this.up.destroy();
    this.clientGate.open();
    this.linger.begin();
    this.finishClose();
  }

  /** @internal Close both sockets at once. */
  destroy(): void {
    if (!this.closed) {
      this.closed = true;
      this.finishClose();
    }
    this.linger.cancel();
    this.client.destroy();
    this.up.destroy();
  }

  private finishClose(): void {
    if (this.idleMs > 0) idleSweeper.unwatch(this);
    const reason = this.closeReason ?? 'client';
    this.stats.closed.set(reason, (this.stats.closed.get(reason) ?? 0) + 1);
    this.middleware.close();
    const hs = this.closeHandlers.splice(0);
    for (const h of hs) h();
  }
}
