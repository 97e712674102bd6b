import type { ProtocolError } from '../errors.js';
import type { Pipeline } from '../middleware/pipeline.js';
import type { LentReads } from '../transport/tcp.js';
import type { ConnectionState } from './connection-state.js';
import type { LatencySampler } from './latency-sampler.js';
import type { MiddlewareStage } from './middleware-stage.js';
import type { ReplyPairing } from './reply-pairing.js';
import type { SessionTuning } from './session-options.js';
import type { CloseReason, SessionStats } from './stats.js';

/** What the two directions of a session need from it (the `Session` itself). */
export interface PathHost {
  readonly closing: boolean;
  readonly closed: boolean;
  /** Stop taking requests and close once every reply due is written; `reason` counts if it is the first. */
  beginClosing(reason: CloseReason): void;
  /** Write the local replies now at the head of the FIFO, then close if that was all. */
  flushHeadLocals(): void;
  maybeFinish(): void;
  protocolFailure(err: ProtocolError): void;
  upstreamBroken(message: string): void;
}

/** The parts of one session both directions share. */
export interface SessionParts {
  readonly host: PathHost;
  readonly middleware: MiddlewareStage;
  readonly state: ConnectionState;
  readonly pairing: ReplyPairing;
  readonly stats: SessionStats;
  /** Set on the sessions that sample latency (`LATENCY_SAMPLE_EVERY`). */
  readonly latency: LatencySampler | null;
  readonly tuning: SessionTuning;
  readonly pipeline: Pipeline;
}

/**
 * The flow both directions share: a chunk goes down the lane (forwarded whole, as one slice) when
 * the lane takes it, else down the general path (framed into a batch). A chunk read into a lent
 * buffer may be forwarded in place only when the other socket holds nothing back; otherwise, or on
 * the general path, it is copied — and if the socket did not take the lane's write at once, the
 * buffer is kept (`LentReads.keep`) for as long as Node holds the write.
 */
export abstract class ChunkRoute {
  constructor(private readonly reads: LentReads | null) {}

  /** A chunk read into the lent buffer. */
  read(chunk: Buffer): void {
    if (this.lent(chunk)) this.reads!.keep();
  }

  /**
   * A chunk in a buffer someone lends (this socket's, or a shared connection's): true when a view
   * of it is still held after the call (a write not taken at once), so the lender must not reuse it.
   */
  lent(chunk: Buffer): boolean {
    if (!this.accept(chunk)) return false;
    if (!this.outputClear()) {
      this.route(Buffer.from(chunk)); // the lane would queue it: give it a copy
      return false;
    }
    if (this.lane(chunk)) return !this.outputClear();
    this.general(Buffer.from(chunk)); // the lane already said no: do not ask it twice
    return false;
  }

  /** A chunk of its own (`'data'` events). */
  readonly onData = (chunk: Buffer): void => {
    if (this.accept(chunk)) this.route(chunk);
  };

  private route(chunk: Buffer): void {
    if (!this.lane(chunk)) this.general(chunk);
  }

  /** Count the chunk; false when the session no longer wants it. */
  protected abstract accept(chunk: Buffer): boolean;
  /** The socket the lane writes to holds nothing back. */
  protected abstract outputClear(): boolean;
  /** Forward the chunk whole if nothing in it needs looking at; false to leave it to `general`. */
  protected abstract lane(chunk: Buffer): boolean;
  protected abstract general(chunk: Buffer): void;
}
