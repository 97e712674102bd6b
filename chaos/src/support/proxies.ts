import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetConfig } from '@slotrelay/host';
import type { SlotrelayConfig } from '@slotrelay/core';
import { freePorts } from '@slotrelay/local-cluster';

const CLI = fileURLToPath(new URL('../../../packages/host/dist/cli.js', import.meta.url));

export { freePorts };

/** Resolves once `host:port` accepts a TCP connection, or rejects after `timeoutMs`. */
export async function waitListening(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ProxyProcess {
  readonly index: number;
  readonly host: string;
  readonly port: number;
  child: ChildProcess | null;
  /** stdout+stderr of the current and earlier runs (JSON log lines), bounded to the last 2,000 lines. */
  readonly output: string[];
}

/** How each proxy process is started. */
export interface FleetProcessOptions {
  /** Run each proxy with this soft and hard `RLIMIT_NOFILE` (via `prlimit`), for many-connection runs. */
  nofile?: number;
  /** How long a start may take until the proxy listens (default 60 s: a loaded 2-core machine needs several seconds per process). */
  startTimeoutMs?: number;
}

/**
 * A fleet of real `slotrelay` processes (one per proxy, as operators run it), each with a config
 * holding only its own connection. Stopped by PID; `kill(i)` is `kill -9`.
 */
export class ProxyFleet {
  readonly proxies: ProxyProcess[];
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'slotrelay-chaos-'));

  private constructor(
    readonly config: SlotrelayConfig,
    host: string,
    ports: number[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly opts: FleetProcessOptions,
  ) {
    this.proxies = ports.map((port, index) => ({ index, host, port, child: null, output: [] }));
  }

  /**
   * Start `count` proxy processes in front of `seeds` on free ports of `host` (dynamic mapping).
   * `edit` may change each connection (and the top level) before the files are written.
   */
  static async start(
    o: {
      seeds: string[];
      count: number;
      host?: string;
      edit?: (c: SlotrelayConfig) => void;
      env?: NodeJS.ProcessEnv;
      logLevel?: string;
    } & FleetProcessOptions,
  ): Promise<ProxyFleet> {
    const host = o.host ?? '127.0.0.1';
    const ports = await freePorts(o.count, host);
    const config = fleetConfig(o.seeds, 0, o.count, host);
    config.connections.forEach((c, i) => {
      c.localPort = ports[i]!;
      c.clusterMembers = ports.map((p) => `${host.includes(':') ? `[${host}]` : host}:${p}`);
    });
    config.log = { level: (o.logLevel ?? 'warn') as 'warn' };
    // The suite stops proxies with SIGTERM (SIGKILL after 5 s): no drain delay, no load balancer to tell.
    config.drainDelayMs = 0;
    o.edit?.(config);
    const fleet = new ProxyFleet(config, host, ports, o.env ?? {}, {
      nofile: o.nofile,
      startTimeoutMs: o.startTimeoutMs,
    });
    try {
      await Promise.all(fleet.proxies.map((_, i) => fleet.startOne(i)));
    } catch (e) {
      await fleet.stop();
      throw e;
    }
    return fleet;
  }

  /** `host:port` of every proxy, in instance order. */
  get addresses(): string[] {
    return this.proxies.map((p) => `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`);
  }

  /** Start proxy `i` (again) and wait until it listens. */
  async startOne(i: number): Promise<void> {
    const p = this.proxies[i]!;
    if (p.child && p.child.exitCode === null && p.child.signalCode === null) throw new Error(`proxy ${i} is running`);
    const { connections, ...top } = this.config;
    const file = path.join(this.dir, `proxy-${i + 1}.json`);
    writeFileSync(file, JSON.stringify({ ...top, connections: [connections[i]] }, null, 2));
    // A raised fd limit needs a wrapper: Node cannot raise its own hard limit. prlimit execs node,
    // so the PID is node's.
    const [cmd, args] = this.opts.nofile
      ? ['prlimit', [`--nofile=${this.opts.nofile}:${this.opts.nofile}`, '--', process.execPath, CLI, '--config', file]]
      : [process.execPath, [CLI, '--config', file]];
    const child = spawn(cmd, args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line) p.output.push(line);
      if (p.output.length > 2000) p.output.splice(0, p.output.length - 2000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    p.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, sig) =>
        reject(new Error(`proxy ${i + 1} exited (${code ?? sig}) at start: ${p.output.slice(-5).join(' | ')}`)),
      ),
    );
    await Promise.race([waitListening(p.host, p.port, this.opts.startTimeoutMs ?? 60_000), exited]);
    exited.catch(() => {});
  }

  /** Send `signal` (default SIGKILL) to proxy `i` and wait for it to exit. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.proxies[i]!.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await gone;
  }

  /** True when proxy `i`'s process is running. */
  alive(i: number): boolean {
    const c = this.proxies[i]!.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  /** The PID of proxy `i`, if running. */
  pid(i: number): number | undefined {
    return this.alive(i) ? this.proxies[i]!.child!.pid : undefined;
  }

  /** SIGTERM every proxy, SIGKILL after 5 s; remove the config files. */
  async stop(): Promise<void> {
    await Promise.all(
      this.proxies.map(async (p, i) => {
        if (!this.alive(i)) return;
        const t = setTimeout(() => p.child?.kill('SIGKILL'), 5000);
        await this.kill(i, 'SIGTERM');
        clearTimeout(t);
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Open file descriptors of process `pid` (Linux /proc), or -1 when it cannot be read. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}
