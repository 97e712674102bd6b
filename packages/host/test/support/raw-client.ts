import net from 'node:net';
import tls from 'node:tls';
import { type RespNode, ReplyScanner, decodeReply, encodeCommand, toPlain } from '@slotrelay/core/internal';

/**
 * A minimal RESP client over a raw socket: it sends exact bytes and hands back exact reply frames,
 * so tests can check wire types (RESP3 maps, pushes, verbatim strings) that client libraries hide.
 */
export class RawClient {
  private readonly scanner = new ReplyScanner();
  private held: Buffer[] = [];
  private readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.scanner.feed(chunk);
      let prev = 0;
      for (let i = 0; i < this.scanner.count; i++) {
        const end = this.scanner.ends[i]!;
        this.frames.push(
          i === 0 && this.held.length
            ? Buffer.concat([...this.held, chunk.subarray(0, end)])
            : chunk.subarray(prev, end),
        );
        this.held = [];
        prev = end;
      }
      if (prev < chunk.length) this.held.push(chunk.subarray(prev));
      this.wake();
    });
    this.closedPromise = new Promise((r) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        r();
      }),
    );
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** The same over TLS (resolves once the handshake is done; rejects when it fails). */
  static connectTls(port: number, opts: tls.ConnectionOptions, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host, ...opts }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  send(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** The next raw reply frame (waits up to `timeoutMs`). */
  async frame(timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a reply');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.frames.shift()!;
  }

  async reply(timeoutMs?: number): Promise<RespNode> {
    return decodeReply(await this.frame(timeoutMs));
  }

  /** Send a command, return its decoded reply as plain JS. */
  async call(...args: Array<string | number | Buffer>): Promise<unknown> {
    this.send(encodeCommand(args));
    return toPlain(await this.reply());
  }

  close(): void {
    this.socket.destroy();
  }
}
