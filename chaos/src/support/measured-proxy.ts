import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SlotrelayConfig } from '@slotrelay/core';
import { type ClusterNode, type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { Redis } from 'ioredis';
import type { ChildMessage, ChildRequest } from './proxy-child.js';
import { freePorts } from './proxies.js';

const CHILD = fileURLToPath(new URL('./proxy-child.js', import.meta.url));

/**
 * One slotrelay proxy in its own process, fronting one Redis node of a cluster with a static
 * mapping (so which node it fronts is known, and no other proxy needs to run), whose own
 * `process.memoryUsage()` can be asked for over IPC. Stopped by PID.
 */
export class MeasuredProxy {
  /** stdout+stderr lines of the child, the last 500. */
  readonly output: string[] = [];
  private nextId = 0;
  private readonly waiting = new Map<number, (u: NodeJS.MemoryUsage) => void>();
  private exited: { code: number | null; signal: string | null } | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
  ) {}

  /**
   * Start a proxy in front of `node` (`host:port`, one of `nodes`, every node of the cluster); the
   * other nodes get proxy addresses on free ports that nobody listens on (redirects name them).
   * `edit` may change the config before it is validated.
   */
  static async start(o: {
    node: string;
    nodes: readonly string[];
    edit?: (c: SlotrelayConfig) => void;
  }): Promise<MeasuredProxy> {
    const host = '127.0.0.1';
    const ports = await freePorts(o.nodes.length, host);
    const own = o.nodes.indexOf(o.node);
    if (own < 0) throw new Error(`${o.node} is not one of ${o.nodes.join(', ')}`);
    const config: SlotrelayConfig = {
      connections: [
        {
          name: 'measured',
          active: true,
          type: 'RedisCluster',
          redisServers: [o.node],
          mappings: 'static',
          clusterMembers: o.nodes.map((n, i) => `${n}=${host}:${ports[i]}`),
          localAddress: host,
          localPort: ports[own]!,
        },
      ],
      log: { level: 'warn' },
    };
    o.edit?.(config);
    const child = fork(CHILD, [JSON.stringify(config)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const p = new MeasuredProxy(child, host, ports[own]!);
    const keep = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line) p.output.push(line);
      if (p.output.length > 500) p.output.splice(0, p.output.length - 500);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('exit', (code, signal) => {
      p.exited = { code, signal };
    });
    child.on('message', (m: ChildMessage) => {
      if (m.type !== 'memory') return;
      p.waiting.get(m.id)?.(m.usage);
      p.waiting.delete(m.id);
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`proxy not ready after 15 s: ${p.output.slice(-5).join(' | ')}`)),
        15_000,
      );
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(t);
        reject(new Error(`proxy exited (${code ?? sig}) at start: ${p.output.slice(-5).join(' | ')}`));
      });
    }).catch(async (e) => {
      await p.stop();
      throw e;
    });
    return p;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True while the process runs. */
  alive(): boolean {
    return this.exited === null;
  }

  /** How the process ended (null while it runs). */
  get exit(): { code: number | null; signal: string | null } | null {
    return this.exited;
  }

  /** The proxy's own `process.memoryUsage()`, after a full GC when `gc` (what is retained, not garbage). */
  memory(gc = false, timeoutMs = 30_000): Promise<NodeJS.MemoryUsage> {
    if (!this.alive()) return Promise.reject(new Error('proxy is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no memory answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (u) => {
        clearTimeout(t);
        resolve(u);
      });
      this.child.send({ id, type: 'memory', gc } satisfies ChildRequest);
    });
  }

  /** VmRSS of the process in bytes (Linux /proc), or -1. */
  rss(): number {
    return vmRss(this.pid);
  }

  /** SIGTERM, SIGKILL after 3 s; waits for the exit. */
  async stop(): Promise<void> {
    if (!this.alive()) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    this.child.kill('SIGTERM');
    await gone;
    clearTimeout(t);
  }
}

/** What {@link withMeasuredProxy} hands its body. */
export interface MeasuredSetup {
  readonly cluster: LocalCluster;
  /** The master the proxy fronts. */
  readonly node: ClusterNode;
  readonly proxy: MeasuredProxy;
  /** A client straight to `node` (no retries). */
  readonly redis: Redis;
  /** Run `undo` (its errors ignored) at the end, before the client, the proxy and the cluster stop. */
  atEnd(undo: () => Promise<unknown>): void;
}

/**
 * A cluster of 3 masters (no replicas), a {@link MeasuredProxy} in front of its first master and a
 * client straight to that master: `body` runs with them, and the client, the proxy and the cluster
 * are stopped after it however it ends.
 */
export async function withMeasuredProxy<T>(body: (s: MeasuredSetup) => Promise<T>): Promise<T> {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
  let proxy: MeasuredProxy | undefined;
  let redis: Redis | undefined;
  const undos: Array<() => Promise<unknown>> = [];
  try {
    const node = cluster.masters()[0]!;
    proxy = await MeasuredProxy.start({ node: `${node.host}:${node.port}`, nodes: cluster.seeds });
    redis = new Redis({ host: node.host, port: node.port, maxRetriesPerRequest: 0 });
    return await body({ cluster, node, proxy, redis, atEnd: (undo) => undos.push(undo) });
  } finally {
    for (const undo of undos) await undo().catch(() => {});
    redis?.disconnect();
    await proxy?.stop();
    await cluster.stop();
  }
}

/** VmRSS of `pid` in bytes, from /proc/<pid>/status, or -1 when it cannot be read. */
export function vmRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : -1;
  } catch {
    return -1;
  }
}

/** Peaks of a proxy's memory seen by `sampleMemory`, in bytes. */
export interface MemoryPeaks {
  rss: number;
  arrayBuffers: number;
  heapUsed: number;
  samples: number;
}

/** Sample `proxy`'s rss and `memoryUsage()` every `everyMs` until `stop()`, keeping the peaks. */
export function sampleMemory(proxy: MeasuredProxy, everyMs = 200): { stop(): Promise<MemoryPeaks> } {
  const peaks: MemoryPeaks = { rss: 0, arrayBuffers: 0, heapUsed: 0, samples: 0 };
  let running = true;
  const take = async () => {
    peaks.rss = Math.max(peaks.rss, proxy.rss());
    try {
      const u = await proxy.memory(false);
      peaks.arrayBuffers = Math.max(peaks.arrayBuffers, u.arrayBuffers);
      peaks.heapUsed = Math.max(peaks.heapUsed, u.heapUsed);
      peaks.samples++;
    } catch {
      // A proxy that does not answer shows in the rss and in the scenario's own checks.
    }
  };
  const loop = (async () => {
    while (running && proxy.alive()) {
      await take();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (proxy.alive()) await take();
      return peaks;
    },
  };
}
