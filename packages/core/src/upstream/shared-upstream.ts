import type { Socket } from 'node:net';
import { RespType } from '../resp/constants.js';
import { ReplyScanner } from '../resp/reply-scanner.js';
import { LentReads } from '../transport/tcp.js';

/**
 * A session's side of a shared connection (`SharedUpstream`). The connection keeps `pending`: the
 * replies it still owes this user; it lowers it before each `deliver` by the replies completed.
 */
export interface SharedUser {
  pending: number;
  /**
   * Reply bytes owed to this user, in order: whole replies, or a piece of one split across reads.
   * A view of the connection's lent read buffer: true when the user still holds it after the call.
   */
  deliver(bytes: Buffer): boolean;
  /**
   * The connection is gone with replies still owed to this user (`pending` is already 0). `error`:
   * Redis's own error reply to the credentials the connection was opened with (`AUTH …`), when
   * that is why it is gone.
   */
  lost(error: Buffer | null): void;
  /** The connection's socket buffer filled (true) or drained (false): stop or go on reading the client. */
  pressure(on: boolean): void;
  /** The user's client has not read its replies for `stallMs` while other users wait behind it. */
  tooSlow(): void;
}

/** Coalescing buffers are this big (or as big as one request that does not fit). */
const OUT_CHUNK = 64 * 1024;
/** Past this many bytes waiting in the socket, the users' clients are paused until it drains. */
const HIGH_WATER = 1024 * 1024;

/** Why a shared connection closed, for the pool's log. */
export type SharedEnd = 'closed' | 'handshake' | 'protocol' | 'unpaired';

/**
 * One upstream connection many sessions share (ARCHITECTURE.md "Multiplexing"). Requests of every
 * session arrive as whole frames (`append`) and are copied into one buffer, written once when the
 * event loop has run every read callback of this turn (`setImmediate`: the check phase runs right
 * after the poll phase, so this is not a turn later). Replies are routed back by an exact FIFO of
 * (user, count): the reply scanner finds frame boundaries, and each user gets its replies as one
 * view of the read — no copy. Nothing on a shared connection is out of band: the sessions that
 * could make it so (pub/sub, MONITOR, tracking) move to connections of their own first.
 */
export class SharedUpstream {
  private socket: Socket | null = null;
  /** False until the connection is up and its handshake answered: requests wait in `out`. */
  private ready = false;
  dead = false;
  /** Sessions linked to this connection (to lend the pool a load figure, and for backpressure). */
  readonly users = new Set<SharedUser>();
  private fifoUsers: Array<SharedUser | null> = new Array(64).fill(null);
  private fifoCounts = new Int32Array(64);
  private fifoHead = 0;
  private fifoLength = 0;
  private readonly out: Buffer[] = [];
  private cur: Buffer | null = null;
  private curLen = 0;
  private outBytes = 0;
  private scheduled = false;
  private pressured = false;
  private readonly scanner: ReplyScanner;
  /** What the handshake's replies said, in order (`handshake`). */
  private handshakeUser: HandshakeUser | null = null;
  private readonly flushNow = (): void => this.flush();
  /** The socket's lent reads (see `LentReads`): replies are routed as views of one reused buffer. */
  readonly reads = new LentReads();
  /** Users whose clients read slower than their replies come: the socket is paused for them. */
  private readonly slow = new Set<SharedUser>();
  private stallTimer: NodeJS.Timeout | null = null;

  constructor(
    /** Told once when the connection is gone (it is then out of its pool). */
    private readonly onEnd: (conn: SharedUpstream, why: SharedEnd) => void,
    maxBulkBytes: number,
    /** How long a slow reader may hold the connection's replies while others wait, ms. */
    private readonly stallMs = 2000,
  ) {
    this.scanner = new ReplyScanner({ maxBulkBytes });
  }

  /** Replies owed on this connection. */
  get load(): number {
    return this.fifoLength;
  }

  /**
   * The connection is up: send `handshake` (the commands that give it its pool key's state — AUTH,
   * HELLO 3, READONLY) and, once each is answered without an error, what the users queued.
   */
  attach(sock: Socket, handshake: readonly Buffer[]): void {
    if (this.dead) {
      sock.destroy();
      return;
    }
    this.socket = sock;
    sock.setNoDelay(true);
    if (this.slow.size > 0) sock.pause();
    // Reads into the lent buffer when the dialer honoured `reads` (plain TCP), else 'data' chunks.
    this.reads.onRead = (chunk) => {
      if (this.read(chunk)) this.reads.keep();
    };
    sock.on('data', (chunk: Buffer) => void this.read(chunk));
    sock.on('drain', () => this.setPressure(false));
    sock.on('error', () => {});
    sock.on('close', () => this.fail('closed', null));
    if (handshake.length === 0) {
      this.becomeReady();
      return;
    }
    const h = (this.handshakeUser = new HandshakeUser(handshake, (error, auth) => {
      this.handshakeUser = null;
      if (error === null) this.becomeReady();
      else this.fail('handshake', auth ? error : null);
    }));
    // Its replies come before any user's: they are taken off the top (`read`), not queued in the FIFO.
    h.pending = handshake.length;
    for (const cmd of handshake) sock.write(cmd);
  }

  /** Queue a session's whole request frames, `replies` of them to be answered, for the next write. */
  append(user: SharedUser, bytes: readonly Buffer[], replies: number): void {
    if (this.dead) {
      user.lost(null);
      return;
    }
    for (const b of bytes) this.copyIn(b);
    // Nothing in flight: nobody else's request is likely to come this turn, so write at once (one
    // client alone pays no wait); else coalesce until the reads of this turn are all done.
    const idle = this.fifoLength === 0;
    if (replies > 0) {
      user.pending += replies;
      this.push(user, replies);
    }
    if (!this.ready || this.scheduled) return;
    if (idle) this.flush();
    else {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  /**
   * A user's client stopped taking its replies (true) or took them again (false). The socket is not
   * read meanwhile — memory stays bounded as on a connection of its own — but if others wait behind
   * it for `stallMs`, the slow users are told (`tooSlow`: their sessions close) and reading goes on.
   */
  hold(user: SharedUser, on: boolean): void {
    if (on) {
      if (this.slow.has(user)) return;
      this.slow.add(user);
      if (this.slow.size > 1) return;
      this.socket?.pause();
      this.stallTimer = setTimeout(() => this.stalled(), this.stallMs);
      this.stallTimer.unref();
    } else {
      if (!this.slow.delete(user) || this.slow.size > 0) return;
      if (this.stallTimer !== null) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      if (!this.dead) this.socket?.resume();
    }
  }

  private stalled(): void {
    this.stallTimer = null;
    if (this.slow.size === 0 || this.dead) return;
    const mask = this.fifoCounts.length - 1;
    let others = false;
    for (let k = 0; k < this.fifoLength && !others; k++)
      others = !this.slow.has(this.fifoUsers[(this.fifoHead + k) & mask]!);
    if (!others) {
      // Nobody else is kept waiting: the slow reader costs only itself, as on its own connection.
      this.stallTimer = setTimeout(() => this.stalled(), this.stallMs);
      this.stallTimer.unref();
      return;
    }
    for (const u of [...this.slow]) u.tooSlow();
  }

  /** Close the connection (its pool is closing); users still owed replies are told. */
  close(): void {
    this.fail('closed', null);
  }

  // ── writes ───────────────────────────────────────────────────────────────────────────────────

  private copyIn(b: Buffer): void {
    let cur = this.cur;
    if (cur === null || this.curLen + b.length > cur.length) {
      if (cur !== null) this.out.push(cur.subarray(0, this.curLen));
      cur = this.cur = Buffer.allocUnsafe(Math.max(OUT_CHUNK, b.length));
      this.curLen = 0;
    }
    b.copy(cur, this.curLen);
    this.curLen += b.length;
    this.outBytes += b.length;
  }

  private flush(): void {
    this.scheduled = false;
    const sock = this.socket;
    if (this.dead || sock === null || this.outBytes === 0) return;
    const cur = this.cur;
    let last: Buffer | null = null;
    if (cur !== null) {
      last = cur.subarray(0, this.curLen);
      // Later appends go after what was written (the socket may still hold it), while room is left.
      this.cur = this.curLen > cur.length / 2 ? null : cur.subarray(this.curLen);
      this.curLen = 0;
    }
    let full = false;
    if (this.out.length === 0) {
      full = !sock.write(last!);
    } else {
      sock.cork();
      for (const b of this.out) full = !sock.write(b) || full;
      if (last !== null) full = !sock.write(last) || full;
      sock.uncork();
      this.out.length = 0;
    }
    this.outBytes = 0;
    if (full && sock.writableLength > HIGH_WATER) this.setPressure(true);
  }

  private setPressure(on: boolean): void {
    if (on === this.pressured) return;
    this.pressured = on;
    for (const u of this.users) u.pressure(on);
  }

  private becomeReady(): void {
    this.ready = true;
    if (this.outBytes > 0) this.flush();
  }

  // ── replies ──────────────────────────────────────────────────────────────────────────────────

  /** A read into the lent buffer: routed; true when some session still holds a view of it. */
  private read(chunk: Buffer): boolean {
    const sc = this.scanner;
    try {
      sc.feed(chunk, 0, chunk.length);
    } catch {
      this.fail('protocol', null);
      return false;
    }
    let kept = false;
    const n = sc.count;
    const ends = sc.ends;
    let from = 0;
    let i = 0;
    const h = this.handshakeUser;
    if (h !== null) {
      const take = Math.min(h.pending, n);
      i = take;
      h.pending -= take;
      from = take > 0 ? ends[take - 1]! : 0;
      // The handshake's replies (or a piece of one); `done` may make the connection ready, or fail it.
      h.deliver(chunk.subarray(0, h.pending > 0 && take === n ? chunk.length : from));
      if (this.dead || h.pending > 0) return false;
    }
    while (i < n) {
      if (this.fifoLength === 0) {
        this.fail('unpaired', null);
        return false;
      }
      const h = this.fifoHead;
      const user = this.fifoUsers[h]!;
      const want = this.fifoCounts[h]!;
      const take = Math.min(want, n - i);
      i += take;
      const to = ends[i - 1]!;
      user.pending -= take;
      if (take === want) this.shift();
      else this.fifoCounts[h] = want - take;
      if (user.deliver(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to))) kept = true;
      if (this.dead) return kept;
      from = to;
    }
    // The start of a reply that goes on in the next read: its owner gets it now.
    if (from < chunk.length) {
      if (this.fifoLength === 0) {
        this.fail('unpaired', null);
        return false;
      }
      if (this.fifoUsers[this.fifoHead]!.deliver(from === 0 ? chunk : chunk.subarray(from))) kept = true;
    }
    return kept;
  }

  private push(user: SharedUser, n: number): void {
    const mask = this.fifoCounts.length - 1;
    if (this.fifoLength > 0) {
      const tail = (this.fifoHead + this.fifoLength - 1) & mask;
      if (this.fifoUsers[tail] === user) {
        this.fifoCounts[tail]! += n;
        return;
      }
    }
    if (this.fifoLength === this.fifoCounts.length) this.grow();
    const i = (this.fifoHead + this.fifoLength) & (this.fifoCounts.length - 1);
    this.fifoUsers[i] = user;
    this.fifoCounts[i] = n;
    this.fifoLength++;
  }

  private shift(): void {
    this.fifoUsers[this.fifoHead] = null;
    this.fifoHead = (this.fifoHead + 1) & (this.fifoCounts.length - 1);
    this.fifoLength--;
  }

  private grow(): void {
    const n = this.fifoCounts.length * 2;
    const users: Array<SharedUser | null> = new Array(n).fill(null);
    const counts = new Int32Array(n);
    const mask = this.fifoCounts.length - 1;
    for (let k = 0; k < this.fifoLength; k++) {
      users[k] = this.fifoUsers[(this.fifoHead + k) & mask]!;
      counts[k] = this.fifoCounts[(this.fifoHead + k) & mask]!;
    }
    this.fifoUsers = users;
    this.fifoCounts = counts;
    this.fifoHead = 0;
  }

  /** The connection is gone: every user still owed a reply is told, once. */
  private fail(why: SharedEnd, authError: Buffer | null): void {
    if (this.dead) return;
    this.dead = true;
    this.socket?.destroy();
    const owed = new Set<SharedUser>();
    const mask = this.fifoCounts.length - 1;
    for (let k = 0; k < this.fifoLength; k++) owed.add(this.fifoUsers[(this.fifoHead + k) & mask]!);
    this.fifoUsers.fill(null);
    this.fifoLength = 0;
    this.out.length = 0;
    this.cur = null;
    this.outBytes = 0;
    if (this.pressured) this.setPressure(false);
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.slow.clear();
    this.users.clear();
    this.onEnd(this, why);
    for (const u of owed) {
      u.pending = 0;
      if (u !== this.handshakeUser) u.lost(authError);
    }
  }
}

/** Collects the handshake's replies; tells `done` once all came, with the first error if any. */
class HandshakeUser implements SharedUser {
  pending = 0;
  private readonly reply: Buffer[] = [];

  constructor(
    private readonly commands: readonly Buffer[],
    private readonly done: (error: Buffer | null, auth: boolean) => void,
  ) {}

  deliver(bytes: Buffer): boolean {
    this.reply.push(Buffer.from(bytes));
    if (this.pending > 0) return false;
    const all = Buffer.concat(this.reply);
    const sc = new ReplyScanner();
    sc.feed(all);
    let from = 0;
    for (let i = 0; i < sc.count; i++) {
      const t = sc.types[i];
      if (t === RespType.Error || t === RespType.BlobError) {
        this.done(all.subarray(from, sc.ends[i]), isAuth(this.commands[i]!));
        return false;
      }
      from = sc.ends[i]!;
    }
    this.done(null, false);
    return false;
  }

  lost(): void {}

  pressure(): void {}

  tooSlow(): void {}
}

function isAuth(cmd: Buffer): boolean {
  // `*N\r\n$4\r\nAUTH\r\n…`
  const i = cmd.indexOf('\n$');
  if (i < 0) return false;
  const j = cmd.indexOf('\n', i + 2);
  return cmd.toString('latin1', j + 1, j + 5).toUpperCase() === 'AUTH';
}
