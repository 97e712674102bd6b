import net, { type Server, type Socket } from 'node:net';
import { upstreamDialError } from '../errors.js';
import type { HostPort } from '../topology/address.js';

/** Size of a lent read buffer for a busy socket: libuv's own read size, so a read takes what one stream read would. */
const LENT_READ_BYTES = 64 * 1024;
/**
 * Size of a socket's first lent buffer, and again once it goes quiet: a slice of Node's shared 8 KiB
 * pool, so an idle session holds 1 KiB rather than the touched pages of its own 64 KiB (issue 16:
 * 10,000 idle clients). A request of -P 16 small commands fits; a read that fills it grows the next.
 */
const SMALL_READ_BYTES = 1024;
/** Reads in a row that would have fitted the small buffer before a busy socket's buffer shrinks again. */
const SHRINK_AFTER_READS = 64;

/**
 * Reads of one socket into a buffer it keeps reusing (Node's `onread`), instead of `'data'` events:
 * no stream machinery and no buffer allocated per read. Each read goes to `onRead` as a view of that
 * buffer, valid only during the call: a consumer that lets a view outlive it (a write Node still
 * holds, a frame kept for later) calls `keep()`, and the next read gets a new buffer. The buffer
 * starts small and grows for a socket whose reads fill it.
 */
export class LentReads {
  private buffer: Buffer | null = null;
  private size = SMALL_READ_BYTES;
  /** Reads in a row that would have fitted the small buffer (while `size` is the large one). */
  private smallReads = 0;
  /** A socket handed over with reads nobody consumes would lose bytes: loudly, not silently. */
  constructor(public onRead: (chunk: Buffer) => void = unconsumed) {}

  keep(): void {
    this.buffer = null;
  }

  /** The `onread` option of a socket that reads this way. */
  socketOption(): { buffer: () => Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
    return {
      buffer: () => (this.buffer ??= Buffer.allocUnsafe(this.size)),
      callback: (n, buf) => {
        if (n === buf.length || this.size !== SMALL_READ_BYTES) this.resize(n, buf.length);
        this.onRead((buf as Buffer).subarray(0, n));
        return true; // pausing stays with socket.pause()
      },
    };
  }

  /** Grow after a read that filled the buffer; shrink after many reads that fitted the small one. */
  private resize(n: number, length: number): void {
    if (n === length && length < LENT_READ_BYTES) {
      this.size = LENT_READ_BYTES;
      this.smallReads = 0;
      this.buffer = null;
    } else if (n > SMALL_READ_BYTES) {
      this.smallReads = 0;
    } else if (++this.smallReads >= SHRINK_AFTER_READS) {
      this.size = SMALL_READ_BYTES;
      this.smallReads = 0;
      this.buffer = null;
    }
  }
}

function unconsumed(): never {
  throw new Error('a socket read with LentReads, but nothing set its onRead');
}

/**
 * Opens a connection to a Redis node; resolves once it is connected (and, for TLS, verified). A
 * dialer may honour `reads` (plain TCP does); one that does not delivers `'data'` events as usual.
 */
export type Dialer = (target: HostPort, reads?: LentReads) => Promise<Socket>;

/**
 * Makes the server a listener accepts clients on; `onConnection` gets each ready client socket, and
 * `reads` when the socket reads with lent reads (the consumer then sets `reads.onRead` at once).
 */
export type ServerFactory = (onConnection: (socket: Socket, reads?: LentReads) => void) => Server;

/** DI tokens for the transports of a listener. */
export const Dialer = Symbol.for('@slotrelay/core:Dialer');
export const ServerFactory = Symbol.for('@slotrelay/core:ServerFactory');

/**
 * Plain TCP server whose client sockets read with lent reads. Half-open is allowed so replies still
 * reach a client that sent FIN.
 */
export function tcpServer(): ServerFactory {
  return (onConnection) =>
    net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (accepted) => {
      const reads = new LentReads();
      const socket = withLentReads(accepted, reads);
      if (socket !== null) {
        onConnection(socket, reads);
      } else {
        accepted.resume();
        onConnection(accepted);
      }
    });
}

/**
 * Node's server has no `onread` (only `new net.Socket` has): the accepted socket, not yet reading
 * (`pauseOnConnect`), hands its handle to a new socket that reads into `reads`, the way Node itself
 * makes server sockets from handles. The old socket is then destroyed without its handle, which
 * also settles the server's connection count. Null when this Node keeps no `_handle` (reads then
 * stay streams).
 */
function withLentReads(accepted: Socket, reads: LentReads): Socket | null {
  const inner = accepted as unknown as { _handle: object | null };
  const handle = inner._handle;
  if (handle === null || typeof handle !== 'object') return null;
  inner._handle = null;
  accepted.destroy();
  return new net.Socket({ handle, allowHalfOpen: true, onread: reads.socketOption() } as net.SocketConstructorOpts);
}

/** Plain TCP dialer with a connect timeout; errors name the target. */
export function tcpDialer(connectTimeoutMs = 3000): Dialer {
  return (target, reads) =>
    new Promise((resolve, reject) => {
      const sock = net.connect({
        host: target.host,
        port: target.port,
        noDelay: true,
        ...(reads && { onread: reads.socketOption() }),
      });
      settleOnConnect(sock, 'connect', target, connectTimeoutMs, resolve, reject);
    });
}

/**
 * Resolve with `sock` on `readyEvent`, or reject with a clear error on error/timeout/close.
 * Shared by the TCP and TLS dialers.
 */
export function settleOnConnect(
  sock: Socket,
  readyEvent: string,
  target: HostPort,
  timeoutMs: number,
  resolve: (s: Socket) => void,
  reject: (e: Error) => void,
): void {
  const where = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  const fail = (why: string) => {
    cleanup();
    sock.destroy();
    reject(upstreamDialError(where, why));
  };
  const onError = (e: Error) => fail((e as NodeJS.ErrnoException).code ?? e.message);
  const onClose = () => fail('connection closed');
  const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
  const onReady = () => {
    cleanup();
    resolve(sock);
  };
  const cleanup = () => {
    clearTimeout(timer);
    sock.off('error', onError);
    sock.off('close', onClose);
    sock.off(readyEvent, onReady);
  };
  sock.once('error', onError);
  sock.once('close', onClose);
  sock.once(readyEvent, onReady);
}
