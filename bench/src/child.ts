/**
 * Child processes of the harness (proxies, redis-benchmark): started with a known PID, stopped by
 * that PID, killed on our exit if still running. Plus free-port probing and port readiness polls.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';

const running = new Set<ChildProcess>();

process.on('exit', () => {
  for (const c of running) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A started child process whose output tail is kept for error messages. */
export interface Child {
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Last ~8 KB of stderr and stdout. */
  tail(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<string>;
  /** SIGTERM, SIGKILL after `graceMs`, resolve when gone. Idempotent. */
  stop(graceMs?: number): Promise<string>;
}

export function startChild(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; onStdout?: (s: string) => void } = {},
): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`cannot start ${cmd}`);
  running.add(proc);
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-8192);
  };
  proc.stdout!.on('data', (d: Buffer) => {
    keep(d);
    opts.onStdout?.(d.toString('utf8'));
  });
  proc.stderr!.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve(signal ?? String(code));
    });
    proc.once('error', (e) => {
      running.delete(proc);
      resolve(`error ${e.message}`);
    });
  });
  let stopping: Promise<string> | null = null;
  return {
    pid: proc.pid,
    proc,
    tail: () => tail,
    exited,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return exited;
        process.kill(proc.pid!, 'SIGTERM');
        const timer = setTimeout(() => {
          if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid!, 'SIGKILL');
        }, graceMs);
        const how = await exited;
        clearTimeout(timer);
        return how;
      })();
      return stopping;
    },
  };
}

/** True when something accepts TCP connections on host:port. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Poll (every 100 ms, up to `timeoutMs`) until every port accepts connections; fail early if the child exits. */
export async function waitListening(
  child: Child,
  host: string,
  ports: readonly number[],
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | null = null;
  void child.exited.then((how) => (exited = how));
  for (;;) {
    if (exited !== null) throw new Error(`process ${child.pid} exited (${exited}) before listening:\n${child.tail()}`);
    const ok = await Promise.all(ports.map((p) => canConnect(host, p)));
    if (ok.every(Boolean)) return;
    if (Date.now() > deadline)
      throw new Error(
        `process ${child.pid}: ports ${ports.join(',')} not listening after ${timeoutMs} ms:\n${child.tail()}`,
      );
    await sleep(100);
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/**
 * `count` consecutive free ports below the ephemeral range (32768+), so no outgoing connection of
 * the proxies can take one; ports handed out earlier in this process are never reused.
 */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    const range = Array.from({ length: count }, (_, i) => base + i);
    if (range.some((p) => handedOut.has(p))) continue;
    const free = await Promise.all(range.map((p) => portFree(host, p)));
    if (free.every(Boolean)) {
      range.forEach((p) => handedOut.add(p));
      return base;
    }
  }
  throw new Error(`no ${count} consecutive free ports found on ${host}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
