import { INLINE, NO_REPLY, RequestScanner } from '../resp/request-scanner.js';
import type { LentReads } from '../transport/tcp.js';
import { ChunkRoute, type PathHost, type SessionParts } from './chunk-route.js';
import type { CommandTable } from './command-table.js';
import type { ConnectionState } from './connection-state.js';
import { Batch, COMPLETE, type Frame } from './frame.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import type { InFlight } from './in-flight.js';
import type { LatencySampler } from './latency-sampler.js';
import type { MiddlewareStage } from './middleware-stage.js';
import { answerFrame, type ReplyPairing } from './reply-pairing.js';
import type { SessionStats } from './stats.js';
import { UNREACHABLE, type UpstreamWriter } from './upstream-writer.js';
import { classifyShared, SHARE_ASKING, SHARE_KEY, SHARE_NAME, SHARE_PIN, SHARE_QUIT, validName } from './sharing.js';
import { encodeError, encodeReply, node } from '../resp/encode.js';

const OK = Buffer.from('+OK\r\n');
const NULL2 = Buffer.from('$-1\r\n');
const NULL3 = Buffer.from('_\r\n');
const NAME_REFUSED = encodeError('ERR Client names cannot contain spaces, newlines or special characters.');

/**
 * Requests, client → Redis: chunk → RequestScanner (boundaries only) → batch → middleware →
 * upstream, each request that expects a reply joining the in-flight FIFO in the order it goes out.
 */
export class RequestPath extends ChunkRoute implements FrameSink {
  // What the lane reads on every chunk comes first.
  /** The reader holds no frame in progress (mirrors `FrameReader.idle`, which only the general path changes). */
  private idle = true;
  /** The client sent something since the idle sweeper last looked (`IdleSweeper`). */
  active = false;
  private readonly allRequests: boolean;
  private readonly scanner: RequestScanner;
  private readonly reader: FrameReader;
  private readonly batch = new Batch();
  private readonly table: CommandTable;

  private readonly host: PathHost;
  private readonly middleware: MiddlewareStage;
  private readonly state: ConnectionState;
  private readonly pairing: ReplyPairing;
  private readonly stats: SessionStats;
  private readonly latency: LatencySampler | null;

  constructor(
    parts: SessionParts,
    private readonly up: UpstreamWriter,
    reads: LentReads | null,
  ) {
    super(reads);
    ({ host: this.host, middleware: this.middleware, state: this.state, pairing: this.pairing } = parts);
    ({ stats: this.stats, latency: this.latency } = parts);
    const { tuning, pipeline } = parts;
    this.allRequests = pipeline.allRequests;
    this.table = pipeline.table;
    this.scanner = new RequestScanner(tuning.limits);
    this.scanner.watch = pipeline.table;
    this.reader = new FrameReader(this.scanner, this, tuning.holdLimit, tuning.maxWholeFrameBytes, 'command');
  }

  /** Bytes held for a request split across chunks. */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  protected accept(chunk: Buffer): boolean {
    this.stats.bytesFromClients += chunk.length;
    this.active = true;
    const h = this.host;
    return !h.closing && !h.closed;
  }

  protected outputClear(): boolean {
    return this.up.clear;
  }

  /**
   * The fast lane for the common chunk: whole requests only, none that core or a middleware watches,
   * no connection state to follow, and nothing in the pipeline that wants every batch. Then there is
   * nothing to decide per request: count them in flight and forward the chunk as it is — no frame
   * views, no batch, not even the scanner's per-frame records. Anything else takes the general
   * path, which scans the chunk again from its start.
   */
  protected lane(chunk: Buffer): boolean {
    if (!this.idle || !this.state.requestLaneOpen || this.up.error !== null || this.allRequests) return false;
    const n = this.scanner.countPlain(chunk);
    if (n === 0) return false;
    this.stats.requests += n;
    // Appended at the tail: no local reply can have come due at the head, nothing to flush.
    this.pairing.inflight.pushPlain(n);
    const up = this.up;
    up.write(chunk);
    up.commit();
    this.pairing.holdIfFull();
    const latency = this.latency;
    if (latency !== null) {
      latency.chunkRead();
      latency.requestsRead();
    }
    return true;
  }

  /** Requests the lane did not take: framed into a batch, through the middleware that want them. */
  protected general(chunk: Buffer): void {
    const latency = this.latency;
    if (latency !== null) latency.chunkRead();
    const reader = this.reader;
    const err = reader.scan(chunk);
    const b = this.batch;
    b.reset();
    const err2 = reader.assemble(chunk, b, err);
    this.idle = reader.idle;
    if (b.count > 0) this.middleware.requests(b);
    if (latency !== null) latency.requestsRead();
    // After QUIT Redis parses nothing more: no protocol error either.
    if (err2 && !this.state.quit) this.host.protocolFailure(err2);
  }

  /** Write a batch the middleware passed on: requests in runs of adjacent frames, the FIFO in step. */
  send(b: Batch): void {
    b.delivered = true;
    let run: Buffer | null = null;
    let s = 0;
    let e = 0;
    const up = this.up;
    if (b.count > 1) up.cork();
    const inflight = this.pairing.inflight;
    for (let i = 0; i < b.count; i++) {
      const f = b.frames[i]!;
      if (up.error !== null && !f.dropped) {
        this.host.beginClosing('upstream');
        // Redis is unreachable: the first request for it closes the session without a reply (after
        // the replies before it), as the client would see it directly; nothing after it is served.
        if (up.error === UNREACHABLE) break;
        // No Redis for a reason of config: every request gets the error, then the session closes.
        if (f.expectsReply && f.kind === COMPLETE) answerFrame(f, up.error);
        else f.dropped = true;
      }
      const share = f.share;
      if (share !== 0 && !f.dropped) {
        // A shared session: what came before goes to the shared connection; this request and
        // everything after it wait until the session is on the connection it needs.
        const side = up.side;
        if (side !== null && (share === SHARE_PIN || share === SHARE_KEY)) {
          if (run !== null) up.write(s === 0 && e === run.length ? run : run.subarray(s, e));
          run = null;
          side.beginMove(f);
        }
      }
      if (f.dropped || f.replacement !== null || share === SHARE_PIN || share === SHARE_KEY) {
        if (run !== null) up.write(s === 0 && e === run.length ? run : run.subarray(s, e));
        run = null;
        if (share === SHARE_ASKING && f.dropped && up.side !== null) {
          up.commit(); // what came before ASKING goes without it
          up.side.asking = true;
        }
        if (!f.dropped) {
          const bytes = f.replacement ?? f.buf.subarray(f.start, f.end);
          if (!Buffer.isBuffer(bytes)) throw new Error('a request can only be replaced by a Buffer');
          up.write(bytes);
        }
        if (f.expectsReply) pushRequest(inflight, f);
        continue;
      }
      // The FIFO takes requests in the order they go out, after the middleware marked or answered them.
      if (f.expectsReply) pushRequest(inflight, f);
      if (run === f.buf && e === f.start) {
        e = f.end;
        continue;
      }
      if (run !== null) up.write(s === 0 && e === run.length ? run : run.subarray(s, e));
      run = f.buf;
      s = f.start;
      e = f.end;
    }
    if (run !== null) up.write(s === 0 && e === run.length ? run : run.subarray(s, e));
    if (b.count > 1) up.uncork();
    up.commit();
    this.pairing.holdIfFull();
    this.host.flushHeadLocals();
  }

  // ── FrameSink: what the reader asks as requests complete ──────────────────────────────────────

  onFrame(batch: Batch, f: Frame, i: number): void {
    if (this.state.quit) {
      f.dropped = true; // after QUIT: Redis would never read it
      return;
    }
    const sc = this.scanner;
    f.flags = sc.flags[i]!;
    f.argc = sc.argcs[i]!;
    f.nameOff = sc.nameOffs[i]!;
    f.nameLen = sc.nameLens[i]!;
    const cmd =
      f.flags & INLINE
        ? this.matchInline(f)
        : f.nameLen > 0
          ? this.table.match(f.buf, f.start + f.nameOff, f.nameLen)
          : undefined;
    if (cmd !== undefined) {
      f.command = cmd;
      batch.interesting++;
      const side = this.up.side;
      // After a request that pins, everything goes to the session's own connection as it is.
      if (side !== null && !side.requestPinned) {
        classifyShared(f, cmd, side.requestKey);
        if (f.share === SHARE_PIN) side.requestPinned = true;
        if (f.share === SHARE_KEY) side.requestKey = f.shareKey!;
        if (f.shareName !== null) side.name = f.shareName;
      }
    }
    this.track(f, cmd);
    const share = f.share;
    if (share === SHARE_NAME) this.nameRequest(f);
    else if (share === SHARE_QUIT || (share === SHARE_ASKING && f.argc === 1)) {
      // QUIT: Redis would close the connection every session shares; the proxy answers and closes
      // this one. ASKING: answered here, sent right before the session's next request (`SharedSide.asking`).
      if (f.expectsReply) answerFrame(f, OK);
      else f.dropped = true;
    }
  }

  mustHold(prefix: Buffer): boolean {
    const sc = this.scanner;
    if (sc.curInline) return true; // inline lines are bounded (64 KB) and must be parsed whole
    if (sc.curNameLen < 0) return false;
    return this.table.match(prefix, sc.curNameOff, sc.curNameLen) !== undefined;
  }

  onStreamStart(_batch: Batch, f: Frame): void {
    f.argc = this.scanner.curArgc;
    // A shared connection takes whole requests only: one too large to hold goes on a connection of its own.
    const side = this.up.side;
    if (side !== null && !side.requestPinned) {
      f.share = SHARE_PIN;
      side.requestPinned = true;
    }
    this.track(f, undefined);
  }

  onStreamEnd(): void {}

  /** CLIENT SETNAME / GETNAME of a shared session, answered as Redis would (see `SHARE_NAME`). */
  private nameRequest(f: Frame): void {
    const side = this.up.side!;
    const args = f.args();
    if (args.length === 3) {
      const name = args[2]!;
      const valid = validName(name);
      if (valid === null) answerFrame(f, NAME_REFUSED);
      else {
        side.name = name.length === 0 ? null : valid;
        answerFrame(f, OK);
      }
      if (!f.expectsReply) f.dropped = true;
      return;
    }
    const name = side.name;
    answerFrame(f, name !== null ? encodeReply(node.bulk(name)) : side.requestKey.protocol === 3 ? NULL3 : NULL2);
    if (!f.expectsReply) f.dropped = true;
  }

  /** Count the request and follow its effect on the connection state. */
  private track(f: Frame, cmd: string | undefined): void {
    if ((f.flags & NO_REPLY) === 0) this.stats.requests++;
    this.state.trackRequest(f, cmd);
    if (this.state.quit) this.host.beginClosing('quit');
  }

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
    return this.table.match(name, 0, name.length);
  }
}

/** A request that expects a reply joins the FIFO: plain (counted), or with its entry. */
function pushRequest(inflight: InFlight, f: Frame): void {
  if (f.entry === null) inflight.pushPlain();
  else inflight.push(f.entry);
}
