import { RespType } from '../resp/constants.js';
import type { SharedUpstream, SharedUser } from '../upstream/shared-upstream.js';
import { DEFAULT_KEY, type PoolKey, type UpstreamPool } from '../upstream/upstream-pool.js';
import type { Frame } from './frame.js';
import type { InFlight } from './in-flight.js';
import { SHARE_PIN } from './sharing.js';

/** The session's writes that wait while it is not linked (its `UpstreamWriter`). */
export interface WaitingWrites {
  readonly queuedCount: number;
  /** The first `n` writes waiting, taken out. */
  takeQueued(n: number): Buffer[];
  /** The first request waiting (the one that changes the key), for the connection of the new key alone. */
  takeFirstQueued(): Buffer | undefined;
  /** Requests may flow to the shared connection now: flush what waited, committing it there. */
  linkReady(): void;
}

/** What the shared side needs from its session. */
export interface SharedHost {
  readonly closed: boolean;
  /** Reply bytes from Redis for this session (whole replies or pieces, in order); true: a view is still held. */
  repliesIn(bytes: Buffer): boolean;
  /**
   * The session must have a connection of its own, in `key`'s state, before what waits goes out;
   * `asking`: the client's ASKING (answered by the proxy) goes last in that setup, right before the
   * request it is for.
   */
  pinTo(key: PoolKey, name: Buffer | null, asking: boolean): void;
  upstreamBroken(message: string): void;
  /** The client reads too slowly for a shared connection (see `SharedUpstream.hold`): close the session. */
  tooSlow(): void;
  /** Stop (true) or go on (false) reading the client: the shared connection's socket is full. */
  clientPressure(on: boolean): void;
}

/** The pool is not known yet (the topology is being read): everything waits. */
const START = 4;
const LINKED = 0;

export const ASKING = Buffer.from('*1\r\n$6\r\nASKING\r\n');

/** Takes the replies nobody waits for (Redis's +OK to the ASKING the proxy already answered). */
const DROP: SharedUser = {
  pending: 0,
  deliver: () => false,
  lost() {},
  pressure() {},
  tooSlow() {},
};
/** A pin or key change waits for the replies the session is still owed on its connection. */
const WAIT_OWED = 1;
/** A credentials change went out on the new key's connection: the rest waits for its reply. */
const WAIT_KEY_REPLY = 2;
const PINNED = 3;

interface Move {
  readonly pin: boolean;
  key: PoolKey;
  /** The move authenticates: it holds only if Redis accepts the credentials. */
  readonly credentials: boolean;
  /** What the key changes of the move set, in order (a chain of them goes to the last key). */
  readonly protocols: number[];
  readonly readonlys: boolean[];
}

/**
 * A session's life on shared connections (ARCHITECTURE.md "Multiplexing"): its requests of one
 * read are staged and committed to its connection as one append with their reply count; before a
 * request that pins or changes the pool key, it stops, waits for what it is owed, then moves.
 * Never back: a pinned session's `UpstreamWriter` has a socket of its own, as without sharing.
 */
export class SharedSide implements SharedUser {
  pending = 0;
  /** The key of the connection the session is on (as Redis has accepted it). */
  key: PoolKey = DEFAULT_KEY;
  /** The key as the requests read so far will leave it, if Redis accepts them (classification). */
  requestKey: PoolKey = DEFAULT_KEY;
  link: SharedUpstream | null = null;
  /** A request that pins was read: the requests after it are not looked at (they follow it). */
  requestPinned = false;
  /** The name the client last gave its connection (CLIENT SETNAME): a pinned connection gets it too. */
  name: Buffer | null = null;
  private phase = START;
  private pool: UpstreamPool | null = null;
  /** A move read before the pool was known: the writes and replies that go before it. */
  private startWrites = 0;
  private startRemote = 0;
  private move: Move | null = null;
  private moveFrom: SharedUpstream | null = null;
  private staged: Buffer[] = [];
  private stagedBytes = 0;
  /** `inflight.remote` at the last commit: what since then is the next commit's reply count. */
  private committed = 0;
  /**
   * The client sent ASKING (answered by the proxy): it goes out right before the session's next
   * requests, in the same append, so no other session's command can come between (its own reply
   * is dropped).
   */
  asking = false;
  private replyStarts = false;
  private pinAfter = false;
  private slowReader = false;
  private replyError = false;

  constructor(
    private readonly inflight: InFlight,
    private readonly writes: WaitingWrites,
    private readonly host: SharedHost,
  ) {}

  /** On a shared connection (not pinned, not moving): requests are staged, not queued. */
  get linked(): boolean {
    return this.phase === LINKED;
  }

  get switching(): boolean {
    return this.phase === WAIT_OWED || this.phase === WAIT_KEY_REPLY;
  }

  get bufferedBytes(): number {
    return this.stagedBytes;
  }

  /** The pool is known: what waited goes out, up to a move read meanwhile. */
  poolReady(pool: UpstreamPool): void {
    this.pool = pool;
    const link = this.relink(this.key);
    if (this.move === null) {
      this.phase = LINKED;
      this.writes.linkReady();
      return;
    }
    const before = this.writes.takeQueued(this.startWrites);
    const n = this.startRemote - this.committed;
    this.committed = this.startRemote;
    if (before.length > 0 || n > 0) link.append(this, before, n);
    this.moveFrom = link;
    this.phase = WAIT_OWED;
    if (this.pending === 0) this.proceed();
  }

  /**
   * The listener fronts another node now. A session that has sent Redis nothing yet (it connected
   * just before the new map) takes that node's pool, as if it had connected just after (true);
   * any other must close (false): its client learned the old node through it.
   */
  repoint(pool: UpstreamPool): boolean {
    if (this.phase !== LINKED || this.committed !== 0 || this.inflight.remote !== 0) return false;
    if (this.stagedBytes !== 0 || this.asking) return false;
    this.pool = pool;
    this.relink(this.key);
    return true;
  }

  stage(bytes: Buffer): void {
    this.staged.push(bytes);
    this.stagedBytes += bytes.length;
  }

  /** Send what is staged, with the replies it expects, to the connection. */
  commit(): void {
    if (this.phase !== LINKED) {
      if (this.phase === WAIT_OWED && this.pending === 0) this.proceed();
      return;
    }
    const n = this.inflight.remote - this.committed;
    if (this.stagedBytes === 0 && n === 0) return;
    let link = this.link!;
    if (link.dead && this.pending === 0) link = this.relink(this.key);
    this.committed += n;
    const bytes = this.staged;
    this.staged = [];
    this.stagedBytes = 0;
    if (this.asking) {
      this.asking = false;
      link.append(DROP, [ASKING], 1);
    }
    link.append(this, bytes, n);
  }

  /**
   * `f` pins the session or moves it to another key: stop here (what follows waits) until it is
   * owed nothing. A second move while one is under way pins: the connection of its own then starts
   * in the state Redis last accepted and gets every request that waited, in order.
   */
  beginMove(f: Frame): void {
    const start = this.phase === START && this.move === null;
    if (this.phase !== LINKED && !start) {
      if (!this.chain(f)) this.pinAfter = true;
      return;
    }
    const pin = f.share === SHARE_PIN;
    const key = pin ? this.requestKey : f.shareKey!;
    const credentials = !pin && key.credentials !== this.key.credentials;
    const from = this.key;
    this.move = {
      pin,
      key,
      credentials,
      protocols: key.protocol !== from.protocol ? [key.protocol] : [],
      readonlys: key.readonly !== from.readonly ? [key.readonly] : [],
    };
    if (start) {
      this.startWrites = this.writes.queuedCount;
      this.startRemote = this.inflight.remote;
      return;
    }
    this.commit();
    this.moveFrom = this.link;
    this.phase = WAIT_OWED;
  }

  /**
   * Add a key change to the move under way when every change of the chain holds on the last key —
   * `HELLO 3` then `READONLY` (as ioredis sends them to a replica) go together to a connection of
   * (3, read-only), where each changes nothing. False: it must pin (`READONLY` then `READWRITE`,
   * credentials, a move already sent).
   */
  private chain(f: Frame): boolean {
    const m = this.move;
    if (m === null || m.pin || f.share === SHARE_PIN) return false;
    if (this.phase !== WAIT_OWED && this.phase !== START) return false;
    const next = f.shareKey!;
    if (m.credentials || next.credentials !== m.key.credentials) return false;
    if (next.protocol !== m.key.protocol) m.protocols.push(next.protocol);
    if (next.readonly !== m.key.readonly) m.readonlys.push(next.readonly);
    if (m.protocols.some((p) => p !== next.protocol) || m.readonlys.some((r) => r !== next.readonly)) return false;
    m.key = next;
    return true;
  }

  /** The reply bytes owed to this session. */
  deliver(bytes: Buffer): boolean {
    if (this.replyStarts) {
      this.replyStarts = false;
      this.replyError = bytes[0] === RespType.Error || bytes[0] === RespType.BlobError;
    }
    const kept = this.host.repliesIn(bytes);
    if (this.pending !== 0 || this.host.closed) return kept;
    if (this.phase === WAIT_OWED) this.proceed();
    else if (this.phase === WAIT_KEY_REPLY) this.settleKey();
    return kept;
  }

  lost(authError: Buffer | null): void {
    if (this.host.closed) return;
    if (this.phase === WAIT_KEY_REPLY && authError !== null && this.move!.credentials) {
      // Redis refused the credentials the new key's connection was opened with: the very answer
      // it gives the client's AUTH, which therefore changed nothing.
      this.replyStarts = true;
      this.deliver(authError);
      return;
    }
    this.host.upstreamBroken('connection to Redis lost');
  }

  pressure(on: boolean): void {
    this.host.clientPressure(on);
  }

  tooSlow(): void {
    this.host.tooSlow();
  }

  /** The client's writer is full (true) or drained (false): the connection holds its replies meanwhile. */
  replyPressure(on: boolean): void {
    this.slowReader = on;
    this.link?.hold(this, on);
  }

  /** The session closed: nothing more is sent for it (replies still due on the connection are dropped). */
  close(): void {
    this.leave();
    this.staged = [];
    this.stagedBytes = 0;
  }

  private proceed(): void {
    const m = this.move!;
    if (this.moveFrom !== null) this.leave(this.moveFrom);
    if (m.pin || this.pinAfter) {
      this.pin(this.key);
      return;
    }
    if (!m.credentials) {
      this.key = this.requestKey = m.key;
      this.relink(m.key);
      this.phase = LINKED;
      this.writes.linkReady();
      return;
    }
    // Credentials: the command alone on a connection of the new key; the rest waits for its answer.
    const first = this.writes.takeFirstQueued();
    const link = this.relink(m.key);
    this.phase = WAIT_KEY_REPLY;
    this.replyStarts = true;
    this.committed += 1;
    link.append(this, first === undefined ? [] : [first], 1);
  }

  /** The answer to a credentials change came: the session is on the new key if Redis accepted it. */
  private settleKey(): void {
    const m = this.move!;
    if (this.replyError) {
      this.leave();
      const back = this.moveFrom;
      if (back !== null && !back.dead) {
        this.link = back;
        back.users.add(this);
        if (this.slowReader) back.hold(this, true);
      } else this.relink(this.key);
    } else this.key = m.key;
    this.requestKey = this.key;
    this.move = null;
    this.moveFrom = null;
    if (this.pinAfter) {
      this.leave();
      this.pin(this.key);
      return;
    }
    this.phase = LINKED;
    this.writes.linkReady();
  }

  private pin(key: PoolKey): void {
    this.phase = PINNED;
    this.link = null;
    const asking = this.asking;
    this.asking = false;
    this.host.pinTo(key, this.name, asking);
  }

  private relink(key: PoolKey): SharedUpstream {
    this.leave();
    const link = (this.link = this.pool!.acquire(key));
    link.users.add(this);
    if (this.slowReader) link.hold(this, true);
    return link;
  }

  private leave(link = this.link): void {
    if (link === null) return;
    link.users.delete(this);
    if (this.slowReader) link.hold(this, false);
  }
}
