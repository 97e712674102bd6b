import type { Socket } from 'node:net';
import { ErrorCode, type SlotrelayError, clientTextOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { encodeCommand, encodeError } from '../resp/encode.js';
import { handshake } from '../upstream/handshake.js';
import { handshakeFor, type PoolKey, type UpstreamPool } from '../upstream/upstream-pool.js';
import type { ClientLinger } from './client-linger.js';
import { type Gate, P_CLOSING, P_DRAIN } from './gate.js';
import type { InFlight } from './in-flight.js';
import type { OrderedWriter } from './ordered-writer.js';
import type { ReplyPath } from './reply-path.js';
import { ASKING, type SharedHost, SharedSide } from './shared-side.js';
import type { CloseReason, SessionStats } from './stats.js';
import { UNREACHABLE, type UpstreamWriter } from './upstream-writer.js';

/** What the upstream's lifecycle needs from its session (the `Session` itself). */
export interface UpstreamHost {
  readonly id: number;
  readonly log: Logger;
  readonly clientAddress: string;
  readonly closing: boolean;
  readonly closed: boolean;
  /** What the close counts as in `SessionStats.closed`, once known (the first reason wins). */
  closeReason: CloseReason | null;
  /** Stop taking requests and close once every reply due is written; `reason` counts if it is the first. */
  beginClosing(reason: CloseReason): void;
  /** Write the local replies now at the head of the FIFO, then close if that was all. */
  flushHeadLocals(): void;
  maybeFinish(): void;
  /** Close both sockets at once. */
  destroy(): void;
}

/**
 * A session's upstream connection, from dial to failure (issue 16): a connection of its own
 * (dialed, attached, its loss and dial failures), or shared connections (`SharedSide`, of which it
 * is the host) until the session pins. `S` is the session, handed to the connector as it is.
 */
export class SessionUpstream<S extends UpstreamHost> implements SharedHost {
  constructor(
    private readonly host: S,
    private readonly connect: (session: S) => Promise<Socket>,
    private readonly sharedPool: (() => Promise<UpstreamPool>) | null,
    private readonly up: UpstreamWriter,
    private readonly replies: ReplyPath,
    private readonly inflight: InFlight,
    private readonly clientGate: Gate,
    private readonly linger: ClientLinger,
    /** The client's writer (its bytes are logged when the client reads too slowly). */
    private readonly writer: OrderedWriter,
    private readonly stats: SessionStats,
  ) {}

  /** Dial Redis, or take the shared pool's connections. */
  start(): void {
    if (this.sharedPool !== null) {
      // The side exists before the pool is known: requests read meanwhile are classified too.
      this.up.side = new SharedSide(this.inflight, this.up, this);
      this.stats.sharedSessions++;
      this.sharedPool().then(
        (pool) => this.startShared(pool),
        (err: unknown) => this.upstreamFailed(err),
      );
      return;
    }
    this.connect(this.host).then(
      (sock) => this.attachUpstream(sock),
      (err: unknown) => this.upstreamFailed(err),
    );
  }

  // ── shared connections (SharedHost) ──────────────────────────────────────────────────────────

  get closed(): boolean {
    return this.host.closed;
  }

  private startShared(pool: UpstreamPool): void {
    if (this.host.closed || this.up.error !== null) return;
    this.up.side!.poolReady(pool);
  }

  /** The listener fronts another node now: true if the session, still fresh, moved to its `pool` (see `SharedSide.repoint`). */
  repoint(pool: UpstreamPool): boolean {
    return !this.host.closing && !this.host.closed && (this.up.side?.repoint(pool) ?? false);
  }

  /** Per reply delivery on a shared connection. */
  repliesIn(bytes: Buffer): boolean {
    return this.replies.lent(bytes);
  }

  tooSlow(): void {
    const host = this.host;
    if (host.closed) return;
    host.log.info(
      { session: host.id, client: host.clientAddress, bytes: this.writer.bufferedBytes },
      'client reads its replies too slowly while others wait on the shared connection: closing it',
    );
    host.closeReason ??= 'limit';
    host.destroy();
  }

  /** The session leaves shared connections for good: its own, in `key`'s state, then what waited. */
  pinTo(key: PoolKey, name: Buffer | null, asking: boolean): void {
    this.host.log.debug({ session: this.host.id }, 'pinned to a connection of its own');
    this.stats.pinnedSessions++;
    const setup = handshakeFor(key);
    if (name !== null) setup.push(encodeCommand(['CLIENT', 'SETNAME', name]));
    // Last: ASKING holds for the next command on the connection, the one that pinned.
    if (asking) setup.push(ASKING);
    this.connect(this.host)
      .then((sock) => handshake(sock, setup, this.replies.upstreamReads))
      .then(
        (sock) => this.attachUpstream(sock),
        (err: unknown) => this.upstreamFailed(err),
      );
  }

  clientPressure(on: boolean): void {
    if (on) this.clientGate.hold(P_DRAIN);
    else this.clientGate.release(P_DRAIN);
  }

  // ── upstream lifecycle and failures ──────────────────────────────────────────────────────────

  private attachUpstream(sock: Socket): void {
    if (this.host.closed) {
      sock.destroy();
      return;
    }
    sock.setNoDelay(true);
    sock.on('data', this.replies.onData);
    sock.on('error', (err) =>
      this.host.log.debug({ session: this.host.id, err: err.message }, 'upstream socket error'),
    );
    sock.on('close', () => this.upstreamBroken('connection to Redis lost'));
    this.up.attach(sock);
    if (this.linger.ended) this.up.end();
  }

  private upstreamFailed(err: unknown): void {
    const host = this.host;
    if (host.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    // By code, not class: a connector built against another copy of core still counts.
    if ((err as SlotrelayError | null)?.code === ErrorCode.Upstream) {
      // Once per session, so debug: whoever dials (the listener) logs the outage once per transition.
      host.log.debug(
        { session: host.id, err: message },
        'Redis unreachable: the session closes without a reply at its first request for Redis',
      );
      this.up.fail(UNREACHABLE);
      this.abandonPending(false);
      return;
    }
    host.log.warn({ session: host.id, err: message }, 'no upstream for session');
    const error = encodeError(`ERR ${clientTextOf(err)}`);
    this.up.fail(error);
    if (this.inflight.answerAllRemote(error) > 0) host.beginClosing('upstream');
    host.flushHeadLocals();
  }

  upstreamBroken(message: string): void {
    const host = this.host;
    if (host.closed || this.up.error !== null) return;
    host.log.debug(
      { session: host.id, err: message },
      'upstream lost: closing the session without a reply to the requests in flight',
    );
    this.up.fail(UNREACHABLE);
    this.up.destroy();
    this.abandonPending(true);
  }

  /**
   * Requests still waiting on Redis will get no reply: the replies due before them are delivered,
   * then the session closes without a word (no `-ERR` a client would take for the command's answer:
   * a closed connection is what cluster clients retry, as they would on a dead node directly).
   */
  private abandonPending(close: boolean): void {
    const host = this.host;
    // A reply cut off mid-stream: nothing more may follow it on this connection.
    if (!this.replies.streaming) host.flushHeadLocals();
    if (this.inflight.size > 0) {
      this.inflight.clear();
      close = true;
    }
    if (!close) return;
    host.beginClosing('upstream');
    this.clientGate.hold(P_CLOSING);
    host.maybeFinish();
  }
}
