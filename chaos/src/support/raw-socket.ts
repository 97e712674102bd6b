import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Redis } from 'ioredis';

/** A connected raw TCP socket (no RESP client in between). */
export function connectRaw(host: string, port: number, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`connect ${host}:${port}: timeout`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** What came back on one raw connection: every byte, and how it ended. */
export interface Exchange {
  readonly reply: Buffer;
  /** `end`: the server closed (FIN); `reset`: ECONNRESET/EPIPE; `timeout`: still open at the deadline. */
  readonly ended: 'end' | 'reset' | 'timeout';
}

/**
 * Send `input` on a fresh connection, half-close (so the server sees the end of the input, as after
 * a client's last write), and collect every reply byte until the server closes or `timeoutMs`.
 */
export async function exchange(host: string, port: number, input: Buffer, timeoutMs = 3000): Promise<Exchange> {
  const s = await connectRaw(host, port);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let ended: Exchange['ended'] | null = null;
    const done = (how: Exchange['ended']) => {
      if (ended) return;
      ended = how;
      clearTimeout(t);
      s.destroy();
      resolve({ reply: Buffer.concat(parts), ended: how });
    };
    const t = setTimeout(() => done('timeout'), timeoutMs);
    s.on('data', (b) => parts.push(b));
    s.on('end', () => done('end'));
    s.on('error', () => done('reset'));
    s.on('close', () => done('end'));
    s.end(input);
  });
}

/** TCP states of /proc/net/tcp (hex code → name), the ones a scenario looks at. */
const STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/** One TCP socket of this network namespace, by local and remote port. */
export interface TcpSocket {
  readonly localPort: number;
  readonly remotePort: number;
  readonly state: string;
}

/** Every IPv4/IPv6 TCP socket of the namespace (Linux /proc/net/tcp{,6}). */
export function tcpSockets(): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const port = (a: string) => parseInt(a.slice(a.lastIndexOf(':') + 1), 16);
      out.push({ localPort: port(cols[1]!), remotePort: port(cols[2]!), state: STATES[cols[3]!] ?? cols[3]! });
    }
  }
  return out;
}

/**
 * How many of the server ends (local port `serverPort`) of connections from `clientPorts` are still
 * ESTABLISHED or CLOSE_WAIT, i.e. not yet closed by the server (whatever the client did).
 */
export function serverEndsOpen(serverPort: number, clientPorts: ReadonlySet<number>): number {
  return tcpSockets().filter(
    (s) =>
      s.localPort === serverPort &&
      clientPorts.has(s.remotePort) &&
      (s.state === 'ESTABLISHED' || s.state === 'CLOSE_WAIT'),
  ).length;
}

/** `connected_clients` of a Redis node (the asking connection included). */
export async function connectedClients(redis: Redis): Promise<number> {
  const info = await redis.info('clients');
  return Number(/connected_clients:(\d+)/.exec(info)?.[1] ?? -1);
}

/**
 * `n` keys named `<prefix>…` whose slots `redis` (a direct connection to one master) serves, so a
 * test can address that node alone without a MOVED.
 */
export async function ownedKeys(redis: Redis, prefix: string, n: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; keys.length < n && i < n * 50; i++) {
    const k = `${prefix}${i}`;
    try {
      await redis.exists(k);
      keys.push(k);
    } catch {
      // -MOVED: another node's slot.
    }
  }
  if (keys.length < n) throw new Error(`found only ${keys.length} of ${n} keys served by the node`);
  return keys;
}

/** Poll `probe` until it returns true or `timeoutMs` passes; resolves with the elapsed ms, or -1. */
export async function pollUntil(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return Math.round(performance.now() - t0);
    if (performance.now() - t0 > timeoutMs) return -1;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const MB = 1024 * 1024;
