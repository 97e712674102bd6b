import net from 'node:net';

/** How one raw request ended: a reply line, the connection closed or failed, or nothing within the bound. */
export interface RawOutcome {
  kind: 'reply' | 'close' | 'error' | 'timeout';
  /** The reply's first line, or the socket error's code. */
  text: string;
  ms: number;
}

/** A command as RESP (an array of bulk strings). */
export function resp(args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

/**
 * A raw TCP client with one request at a time, for commands whose replies are one line (PING, SET,
 * INCR, errors). Says how each request ended; once closed it stays closed.
 */
export class RawConn {
  private buf = '';
  private waiter: ((o: Omit<RawOutcome, 'ms'>) => void) | undefined;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (b) => {
      this.buf += b.toString('latin1');
      const nl = this.buf.indexOf('\r\n');
      if (nl >= 0 && this.waiter) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 2);
        this.settle({ kind: 'reply', text: line });
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => this.settle({ kind: 'error', text: e.code ?? e.message }));
    socket.on('close', () => {
      this.closed = true;
      this.settle({ kind: 'close', text: 'closed' });
    });
  }

  private settle(o: Omit<RawOutcome, 'ms'>): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(o);
  }

  /** Connect to `host:port` (bracketed IPv6 allowed); rejects with the socket error or after `timeoutMs`. */
  static connect(address: string, timeoutMs = 5000): Promise<RawConn> {
    const at = address.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const s = net.connect({
        host: address.slice(0, at).replace(/^\[|\]$/g, ''),
        port: Number(address.slice(at + 1)),
      });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error('connect timeout'));
      }, timeoutMs);
      s.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
      s.once('connect', () => {
        clearTimeout(t);
        s.removeAllListeners('error');
        resolve(new RawConn(s));
      });
    });
  }

  /** Send one command; resolves with how it ended (never rejects). */
  request(args: string[], timeoutMs: number): Promise<RawOutcome> {
    const t0 = performance.now();
    if (this.closed) return Promise.resolve({ kind: 'close', text: 'already closed', ms: 0 });
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle({ kind: 'timeout', text: `no answer in ${timeoutMs} ms` }), timeoutMs);
      this.waiter = (o) => {
        clearTimeout(timer);
        resolve({ ...o, ms: performance.now() - t0 });
      };
      this.socket.write(resp(args));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection: connect, send, wait for the reply, a close or an error, bounded. */
export async function rawOnce(address: string, args: string[], timeoutMs: number): Promise<RawOutcome> {
  const t0 = performance.now();
  let c: RawConn;
  try {
    c = await RawConn.connect(address, timeoutMs);
  } catch (e) {
    const ms = performance.now() - t0;
    const code = (e as NodeJS.ErrnoException).code;
    return code ? { kind: 'error', text: code, ms } : { kind: 'timeout', text: (e as Error).message, ms };
  }
  try {
    const o = await c.request(args, Math.max(1, timeoutMs - (performance.now() - t0)));
    return { ...o, ms: performance.now() - t0 };
  } finally {
    c.close();
  }
}
