import net from 'node:net';
import type { Mask } from './normalize.js';
import { randomSplits } from './prng.js';
import { type RespTree, command, parseFrame } from './resp.js';

/** One request of a script: its bytes, how many reply frames it gets, and how to normalize them. */
export interface Req {
  bytes: Buffer;
  /** Reply frames this request gets (default 1; 0 under CLIENT REPLY OFF, 2 for SUBSCRIBE a b …). */
  replies: number;
  /** The normalization of its reply frames (see normalize.ts); none by default. */
  mask?: Mask;
}

/** A request from its arguments. */
export function req(args: Array<string | number | Buffer>, opts: { replies?: number; mask?: Mask } = {}): Req {
  return { bytes: command(...args), replies: opts.replies ?? 1, mask: opts.mask };
}

/**
 * How a script's bytes are cut into writes: `whole` (one write), `bytes` (one write per byte: every
 * byte boundary), `{ random: k }` (k seeded random cut points), `{ at: [...] }` (these offsets).
 * Between two writes the client yields to the event loop (setImmediate), so a proxy in this
 * process reads each piece on its own.
 */
export type Split = 'whole' | 'bytes' | { random: number } | { at: number[] };

/** What one client saw: the frames it expected (with their masks), and the rest. */
export interface ClientRecord {
  name: string;
  /** Left out of the comparison (a client that disconnects on purpose mid-reply). */
  compare: boolean;
  frames: Array<{ tree: RespTree; mask?: Mask }>;
  /** Frames that arrived but no script step asked for (by the time the run ended). */
  extra: RespTree[];
  /** Bytes of a frame that never completed. */
  partialBytes: number;
  /** The server closed the connection (before the client did). */
  closedByServer: boolean;
  /** A timeout or a protocol error, in words. */
  error?: string;
}

export class ScriptTimeout extends Error {}

/**
 * A raw RESP client over a socket that writes scripts with chosen split points and collects the
 * raw reply frames, found by the suite's own parser (resp.ts).
 */
export class ScriptClient {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private need = 1;
  private readonly arrived: RespTree[] = [];
  private waiters: Array<() => void> = [];
  private closedByUs = false;
  private closed = false;
  readonly record: ClientRecord;

  private constructor(
    readonly name: string,
    readonly socket: net.Socket,
    private readonly rng: () => number,
    compare: boolean,
  ) {
    this.record = { name, compare, frames: [], extra: [], partialBytes: 0, closedByServer: false };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      if (!this.closedByUs) this.record.closedByServer = true;
      this.wake();
    });
  }

  static connect(name: string, port: number, rng: () => number, compare = true): Promise<ScriptClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.off('error', reject);
        resolve(new ScriptClient(name, s, rng, compare));
      });
      s.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    // Parse only once a frame can be whole: a 20 MB bulk is joined once, not once per chunk.
    while (this.pendingLen >= this.need) {
      const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
      this.pending = [buf];
      let r;
      try {
        r = parseFrame(buf, 0);
      } catch (e) {
        this.record.error ??= `${this.name}: not RESP: ${(e as Error).message}`;
        this.socket.destroy();
        return;
      }
      if ('need' in r) {
        this.need = r.need;
        break;
      }
      this.arrived.push(r.tree);
      const rest = buf.subarray(r.end);
      // Copy what stays so the parsed frame's payload does not pin the whole chunk list.
      this.pending = rest.length ? [Buffer.from(rest)] : [];
      this.pendingLen = rest.length;
      this.need = 1;
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Write `reqs` cut as `split` says (bounded: a yield per piece, and a wait for drain when the socket asks). */
  async send(reqs: Req[] | Req, split: Split = 'whole'): Promise<void> {
    const bytes = Buffer.concat((Array.isArray(reqs) ? reqs : [reqs]).map((r) => r.bytes));
    let points: number[];
    if (split === 'whole') points = [];
    else if (split === 'bytes') {
      if (bytes.length > 64 * 1024) throw new Error('split "bytes" is for small scripts');
      points = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    } else if ('random' in split) points = randomSplits(this.rng, bytes.length, split.random);
    else points = split.at.filter((p) => p > 0 && p < bytes.length);
    let from = 0;
    for (const to of [...points, bytes.length]) {
      if (this.closed) return;
      const ok = this.socket.write(bytes.subarray(from, to));
      from = to;
      if (!ok) await new Promise<void>((r) => this.socketDrainOrClose(r));
      else if (to < bytes.length) await new Promise((r) => setImmediate(r));
    }
  }

  private socketDrainOrClose(r: () => void): void {
    const done = () => {
      this.socket.off('drain', done);
      this.socket.off('close', done);
      r();
    };
    this.socket.on('drain', done);
    this.socket.on('close', done);
  }

  /**
   * Wait for the next `n` reply frames and record them (the i-th normalized by `masks[i]`). Throws
   * `ScriptTimeout` after `timeoutMs` or when the connection closes first.
   */
  async expect(n: number, masks: Array<Mask | undefined> = [], timeoutMs = 15_000): Promise<RespTree[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.arrived.length < n) {
      if (this.closed || Date.now() > deadline) {
        const why = this.closed ? 'the connection closed' : `${timeoutMs} ms passed`;
        throw new ScriptTimeout(`${this.name}: ${why} with ${this.arrived.length} of ${n} replies`);
      }
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    const got = this.arrived.splice(0, n);
    got.forEach((tree, i) => this.record.frames.push({ tree, mask: masks[i] }));
    return got;
  }

  /** Send a script and wait for all its replies (their count and masks come from the requests). */
  async run(reqs: Req[], split: Split = 'whole', timeoutMs?: number): Promise<RespTree[]> {
    const masks = reqs.flatMap((r) => Array<Mask | undefined>(r.replies).fill(r.mask));
    await this.send(reqs, split);
    return this.expect(masks.length, masks, timeoutMs);
  }

  /** Wait until the server closes the connection (QUIT); bounded. */
  async expectClose(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new ScriptTimeout(`${this.name}: still open after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Bytes received so far that are not (yet) whole frames, plus whole frames not yet expected. */
  get unread(): { frames: number; bytes: number } {
    return { frames: this.arrived.length, bytes: this.pendingLen };
  }

  /** Close the socket (a hard close: unread replies in flight are dropped). */
  close(): void {
    this.closedByUs = true;
    this.socket.destroy();
  }

  /** End the run: move what arrived unasked into the record, close. */
  finish(): ClientRecord {
    this.record.extra.push(...this.arrived.splice(0));
    this.record.partialBytes = this.pendingLen;
    if (!this.closed) this.close();
    return this.record;
  }
}
