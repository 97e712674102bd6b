/**
 * Memory per session of a proxy process: RSS before, with N idle sessions (each sent one PING, so
 * the session and its upstream connection exist), and while all N keep `depth` GETs in flight.
 * The client side is plain sockets in this process, spread round-robin over the listeners.
 */
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { ReplyScanner, encodeCommand } from '@slotrelay/core/internal';
import { sleep } from './child.js';
import { HOST } from './contenders.js';
import { query } from './discovery-check.js';
import { memory, openFds } from './proc.js';

export interface SessionMemory {
  sessions: number;
  pipelineDepth: number;
  pipelineSeconds: number;
  rssBefore: number;
  rssIdle: number;
  /** Highest VmRSS sampled (every 100 ms) while pipelining. */
  rssPipeliningPeak: number;
  rssAfterClose: number;
  /** Open fds of the proxy (/proc/<pid>/fd) before the sessions and with them idle. */
  fdsBefore: number;
  fdsIdle: number;
  bytesPerSessionIdle: number;
  bytesPerSessionPipelining: number;
  /** GET replies received while pipelining, and how many were errors (should be 0). */
  gets: number;
  errors: number;
}

export interface SessionMemoryOptions {
  sessions: number;
  depth: number;
  seconds: number;
}

const MINUS = 0x2d;

/** Median of 5 VmRSS samples 100 ms apart, after `settleMs`. */
async function settledRss(pid: number, settleMs = 1000): Promise<number> {
  await sleep(settleMs);
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(memory(pid).rss);
    await sleep(100);
  }
  return xs.sort((a, b) => a - b)[2]!;
}

interface Conn {
  sock: Socket;
  inflight: number;
  onReplies: (n: number, errors: number) => void;
}

function openConn(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port, noDelay: true });
    const scanner = new ReplyScanner();
    const conn: Conn = { sock, inflight: 0, onReplies: () => {} };
    const timer = setTimeout(() => fail(new Error(`session to ${port}: no PONG within 10 s`)), 10_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    sock.on('error', fail);
    sock.on('data', (chunk: Buffer) => {
      scanner.feed(chunk);
      let errors = 0;
      for (let i = 0; i < scanner.count; i++) if (scanner.types[i] === MINUS) errors++;
      conn.inflight -= scanner.count;
      conn.onReplies(scanner.count, errors);
    });
    conn.onReplies = (n, errors) => {
      if (n === 0) return;
      clearTimeout(timer);
      if (errors) fail(new Error(`session to ${port}: PING got an error reply`));
      else resolve(conn);
    };
    sock.once('connect', () => {
      conn.inflight = 1;
      sock.write(encodeCommand(['PING']));
    });
  });
}

/**
 * `keys[i]` must be a key the node behind `ports[i]` serves (its own slots, or its master's for a
 * replica: every pipelining session sends READONLY first).
 */
export async function measureSessions(
  pid: number,
  ports: readonly number[],
  keys: readonly string[],
  opts: SessionMemoryOptions,
): Promise<SessionMemory> {
  // Warm up every listener (topology discovery, code paths), then take the baseline.
  for (const p of ports) await query(p, [['PING']]);
  const rssBefore = await settledRss(pid, 1500);
  const fdsBefore = openFds(pid);

  const conns: Conn[] = [];
  try {
    for (let i = 0; i < opts.sessions; i += 100) {
      const batch = Array.from({ length: Math.min(100, opts.sessions - i) }, (_, k) =>
        openConn(ports[(i + k) % ports.length]!),
      );
      conns.push(...(await Promise.all(batch)));
    }
    const rssIdle = await settledRss(pid, 1500);
    const fdsIdle = openFds(pid);

    // Pipelining: READONLY, then keep `depth` GETs in flight per session until the deadline.
    const perGet = ports.map((_, j) => encodeCommand(['GET', keys[j]!]));
    const refill = perGet.map((g) => Buffer.concat(Array.from({ length: opts.depth + 1 }, () => g)));
    const readonly = encodeCommand(['READONLY']);
    let running = true;
    let gets = 0;
    let errors = 0;
    let outstanding = 0;
    let allDone: () => void = () => {};
    const drained = new Promise<void>((r) => (allDone = r));
    conns.forEach((c, i) => {
      const j = i % ports.length;
      const len = perGet[j]!.length;
      c.onReplies = (n, e) => {
        gets += n;
        errors += e;
        if (running) {
          c.inflight += n;
          c.sock.write(refill[j]!.subarray(0, n * len));
        } else if (c.inflight === 0 && --outstanding === 0) allDone();
      };
      c.inflight = opts.depth + 1;
      c.sock.write(Buffer.concat([readonly, refill[j]!.subarray(0, opts.depth * len)]));
    });
    let rssPipeliningPeak = 0;
    const deadline = Date.now() + opts.seconds * 1000;
    while (Date.now() < deadline) {
      rssPipeliningPeak = Math.max(rssPipeliningPeak, memory(pid).rss);
      await sleep(100);
    }
    running = false;
    outstanding = conns.filter((c) => c.inflight > 0).length;
    if (outstanding > 0) await Promise.race([drained, sleep(10_000)]);
    gets -= conns.length; // the READONLY replies

    for (const c of conns) c.sock.destroy();
    conns.length = 0;
    const rssAfterClose = await settledRss(pid, 1500);
    return {
      sessions: opts.sessions,
      pipelineDepth: opts.depth,
      pipelineSeconds: opts.seconds,
      rssBefore,
      rssIdle,
      rssPipeliningPeak,
      rssAfterClose,
      fdsBefore,
      fdsIdle,
      bytesPerSessionIdle: Math.round((rssIdle - rssBefore) / opts.sessions),
      bytesPerSessionPipelining: Math.round((rssPipeliningPeak - rssBefore) / opts.sessions),
      gets,
      errors,
    };
  } finally {
    for (const c of conns) c.sock.destroy();
    await Promise.all(conns.map((c) => (c.sock.destroyed ? Promise.resolve() : once(c.sock, 'close'))));
  }
}
