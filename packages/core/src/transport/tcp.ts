import net, { type Server, type Socket } from 'node:net';
import { upstreamDialError } from '../errors.js';
import type { HostPort } from '../topology/address.js';

/**
 * Reads into a buffer its owner lends, instead of `'data'` events (Node's `onread`): no stream
 * machinery and no allocation per read. `next` gives the buffer for the next read; `onRead` gets the
 * bytes, valid until `next` is called again.
 */
export interface LentReads {
  next(): Buffer;
  onRead(nread: number, buf: Buffer): void;
}

/**
 * Opens a connection to a Redis node; resolves once it is connected (and, for TLS, verified). A
 * dialer may honour `reads` (plain TCP does); one that does not delivers `'data'` events as usual.
 */
export type Dialer = (target: HostPort, reads?: LentReads) => Promise<Socket>;

/** Makes the server a listener accepts clients on; `onConnection` gets each ready client socket. */
export type ServerFactory = (onConnection: (socket: Socket) => void) => Server;

/** DI tokens for the transports of a listener. */
export const Dialer = Symbol.for('@slotrelay/core:Dialer');
export const ServerFactory = Symbol.for('@slotrelay/core:ServerFactory');

/** Plain TCP server. Half-open is allowed so replies still reach a client that sent FIN. */
export function tcpServer(): ServerFactory {
  return (onConnection) => net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
}

/** Plain TCP dialer with a connect timeout; errors name the target. */
export function tcpDialer(connectTimeoutMs = 3000): Dialer {
  return (target, reads) =>
    new Promise((resolve, reject) => {
      const sock = net.connect({
        host: target.host,
        port: target.port,
        noDelay: true,
        ...(reads && {
          onread: {
            buffer: () => reads.next(),
            callback: (n: number, buf: Uint8Array) => {
              reads.onRead(n, buf as Buffer);
              return true; // pausing stays with socket.pause()
            },
          },
        }),
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
