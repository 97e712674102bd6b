import { ReplyScanner } from '../resp/reply-scanner.js';
import { LentReads } from '../transport/tcp.js';
import { ChunkRoute, type PathHost, type SessionParts } from './chunk-route.js';
import type { ConnectionState } from './connection-state.js';
import { Batch, type Frame } from './frame.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import type { LatencySampler } from './latency-sampler.js';
import type { MiddlewareStage } from './middleware-stage.js';
import type { OrderedWriter } from './ordered-writer.js';
import type { ReplyPairing } from './reply-pairing.js';
import type { SessionStats } from './stats.js';

/**
 * Replies, Redis → client: chunk → ReplyScanner → each reply paired with its request
 * (`ReplyPairing`) → middleware → client, with locally answered replies spliced in at their place.
 */
export class ReplyPath extends ChunkRoute implements FrameSink {
  // What the lane reads on every chunk comes first.
  /** The reader holds no frame in progress (mirrors `FrameReader.idle`, which only the general path changes). */
  private idle = true;
  /** A reply is streaming: local replies due after it wait for its end. */
  streaming = false;
  private readonly allReplies: boolean;
  private readonly scanner: ReplyScanner;
  private readonly reader: FrameReader;
  private readonly batch = new Batch();
  /**
   * Lent reads for the upstream socket (see `LentReads`): the next read reuses the buffer when the
   * lane wrote the chunk to the client whole and at once.
   */
  readonly upstreamReads: LentReads;

  private readonly host: PathHost;
  private readonly middleware: MiddlewareStage;
  private readonly state: ConnectionState;
  private readonly pairing: ReplyPairing;
  private readonly stats: SessionStats;
  private readonly latency: LatencySampler | null;

  constructor(
    parts: SessionParts,
    private readonly writer: OrderedWriter,
  ) {
    const reads = new LentReads();
    super(reads);
    reads.onRead = (chunk) => this.read(chunk);
    this.upstreamReads = reads;
    ({ host: this.host, middleware: this.middleware, state: this.state, pairing: this.pairing } = parts);
    ({ stats: this.stats, latency: this.latency } = parts);
    const { limits, holdLimit } = parts.tuning;
    this.allReplies = parts.pipeline.allReplies;
    this.scanner = new ReplyScanner(limits);
    this.reader = new FrameReader(this.scanner, this, holdLimit, limits.maxBulkBytes + 1024, 'reply');
  }

  /** Bytes held for a reply split across chunks. */
  get bufferedBytes(): number {
    return this.reader.bufferedBytes;
  }

  protected accept(chunk: Buffer): boolean {
    this.stats.bytesFromRedis += chunk.length;
    return !this.host.closed;
  }

  protected outputClear(): boolean {
    return this.writer.clear;
  }

  /**
   * The fast lane for replies: whole frames only, none an error or out-of-band (no pub/sub, MONITOR
   * or push in play), each answering a plain request with no local reply due in between, and no
   * middleware wanting every batch. Then the chunk goes to the client as it is.
   */
  protected lane(chunk: Buffer): boolean {
    const inflight = this.pairing.inflight;
    if (!this.idle || !this.state.replyLaneOpen || this.allReplies || inflight.answered > 0) return false;
    const atHead = inflight.plainAtHead();
    if (atHead === 0) return false;
    const n = this.scanner.countPlain(chunk);
    if (n === 0 || atHead < n) return false;
    inflight.shiftPlain(n);
    this.stats.replies += n;
    this.pairing.releaseIfRoom();
    this.writer.write(chunk);
    if (this.latency !== null) this.latency.repliesWritten();
    if (this.host.closing) this.host.maybeFinish();
    return true;
  }

  /** Replies the lane did not take: framed into a batch, through the middleware that want them. */
  protected general(chunk: Buffer): void {
    const reader = this.reader;
    const scanError = reader.scan(chunk);
    const b = this.batch;
    b.reset();
    const err = reader.assemble(chunk, b, scanError);
    this.idle = reader.idle;
    if (b.count > 0) this.middleware.replies(b);
    if (err) this.host.upstreamBroken(`malformed reply from Redis: ${err.message}`);
  }

  /** Write a batch the middleware passed on. */
  send(b: Batch): void {
    b.delivered = true;
    this.writer.writeBatch(b);
    if (this.latency !== null) this.latency.repliesWritten();
    if (this.host.closing) this.host.maybeFinish();
  }

  // ── FrameSink: what the reader asks as replies complete ───────────────────────────────────────

  onFrame(batch: Batch, f: Frame, i: number): void {
    const sc = this.scanner;
    f.flags = sc.flags[i]!;
    f.type = sc.types[i]!;
    this.pairing.consume(batch, f, f.buf, f.start, f.end);
  }

  onStreamEnd(batch: Batch): void {
    // Replies answered locally after a streamed reply may follow it now.
    this.streaming = false;
    this.pairing.appendHeadLocals(batch);
  }

  mustHold(prefix: Buffer): boolean {
    return this.pairing.mustHold(this.scanner.frameType, prefix);
  }

  onStreamStart(batch: Batch, f: Frame, prefix: Buffer): void {
    f.type = this.scanner.frameType;
    this.streaming = true;
    this.pairing.consume(batch, f, prefix, 0, prefix.length);
  }
}
