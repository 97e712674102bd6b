import type { AddressInfo, Server } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '@slotrelay/core';

/** One captured log call. */
export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A Logger that keeps every entry (children write to the same list). */
export function captureLogger(): Logger & { entries: LogEntry[]; at(level: LogEntry['level']): LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (bindings: object): Logger => {
    const put =
      (level: LogEntry['level']) =>
      (obj: object, msg = '') =>
        entries.push({ level, obj: { ...bindings, ...obj } as Record<string, unknown>, msg });
    return {
      debug: put('debug'),
      info: put('info'),
      warn: put('warn'),
      error: put('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return Object.assign(make({}), {
    entries,
    at: (level: LogEntry['level']) => entries.filter((e) => e.level === level),
  });
}

/** Poll `pred` until it holds (deadline 5 s); no fixed sleeps. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Listen on 127.0.0.1:0 and resolve with the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

/** What a TLS client saw: the first reply, or how the connection ended without one. */
export interface TalkResult {
  readonly reply?: string;
  readonly error?: string;
  /** The server certificate's SHA-256 fingerprint, when the handshake completed. */
  readonly fingerprint256?: string;
}

/**
 * Connect with TLS, send `PING\r\n` once the handshake is done, resolve with the first chunk back
 * or the error/close that came instead.
 */
export function tlsPing(port: number, opts: tls.ConnectionOptions): Promise<TalkResult> {
  return new Promise((resolve) => {
    let fingerprint256: string | undefined;
    let settled = false;
    const sock = tls.connect({ host: '127.0.0.1', port, ...opts });
    const finish = (r: TalkResult) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve({ ...r, ...(fingerprint256 ? { fingerprint256 } : {}) });
    };
    sock.on('secureConnect', () => {
      fingerprint256 = sock.getPeerX509Certificate()?.fingerprint256;
      sock.write('PING\r\n');
    });
    sock.on('data', (d) => finish({ reply: d.toString() }));
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }));
    sock.on('close', () => finish({ error: 'closed' }));
  });
}
