import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import type { ClusterNode, LocalCluster, StartClusterOptions } from './types.js';
import {
  restartNode,
  startNode,
  stopNode,
  waitExit,
  type NodeSpec,
  type RunningNode,
  type TlsMaterial,
} from './node-process.js';
import { checkHealth, logTails, SLOT_COUNT } from './health.js';
import { pollUntil } from './poll.js';
import { runCli } from './redis-cli.js';
import { sendCommand } from './resp-client.js';
import { parseClusterNodes } from './cluster-state.js';
import { childRunning, trackDir, untrackDir } from './process-registry.js';
import { redisCliPath, redisServerPath } from './redis-binaries.js';
import { BUS_PORT_OFFSET } from './ports.js';

const DEFAULT_HEALTH_TIMEOUT_MS = 30_000;
const JOIN_TIMEOUT_MS = 20_000;

function formatSeed(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    throw new Error(`startCluster: ${name} must be an integer >= ${min} (got ${value})`);
  return value;
}

async function readTls(tls: NonNullable<StartClusterOptions['tls']>): Promise<TlsMaterial> {
  const read = async (what: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`startCluster: cannot read tls.${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  // In order, so the first bad file is the one reported.
  const ca = await read('caFile', tls.caFile);
  const cert = await read('certFile', tls.certFile);
  const key = await read('keyFile', tls.keyFile);
  return {
    caFile: tls.caFile,
    certFile: tls.certFile,
    keyFile: tls.keyFile,
    plainPort: tls.plainPort ?? false,
    pem: { ca, cert, key },
  };
}

class LocalClusterImpl implements LocalCluster {
  readonly nodes: ClusterNode[] = [];
  private readonly runtime: RunningNode[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly spec: NodeSpec) {}

  get seeds(): string[] {
    return this.nodes.map((n) => formatSeed(n.host, n.port));
  }

  masters(): ClusterNode[] {
    return this.withRole('master');
  }

  replicas(): ClusterNode[] {
    return this.withRole('replica');
  }

  private withRole(role: ClusterNode['role']): ClusterNode[] {
    return this.runtime.filter((rn) => rn.node.role === role && childRunning(rn.child)).map((rn) => rn.node);
  }

  /** Adds an already started node to this cluster's bookkeeping (stopping it if the cluster was stopped meanwhile). */
  async adopt(rn: RunningNode): Promise<void> {
    if (this.stopping) {
      await stopNode(rn);
      throw new Error('LocalCluster: stopped while a node was starting');
    }
    this.runtime.push(rn);
    this.nodes.push(rn.node);
  }

  async addNode(): Promise<ClusterNode> {
    if (this.stopping) throw new Error('LocalCluster.addNode: the cluster was stopped');
    const rn = await startNode(this.spec);
    await this.adopt(rn);
    rn.node.id = String(await sendCommand(rn.endpoint, ['CLUSTER', 'MYID']));
    rn.node.role = 'master';
    return rn.node;
  }

  private resolve(node: ClusterNode | number): RunningNode {
    const rn = typeof node === 'number' ? this.runtime[node] : this.runtime.find((r) => r.node === node);
    if (!rn)
      throw new Error(
        `LocalCluster: unknown node ${typeof node === 'number' ? `index ${node}` : `${node.host}:${node.port}`}`,
      );
    return rn;
  }

  async killNode(node: ClusterNode | number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const rn = this.resolve(node);
    if (!childRunning(rn.child)) return;
    rn.child.kill(signal);
    if (!(await waitExit(rn.child, 10_000)))
      throw new Error(`redis-server pid ${rn.child.pid} did not exit on ${signal} within 10 s`);
    this.spec.log(`redis-server pid ${rn.child.pid} (${rn.node.host}:${rn.node.port}) killed with ${signal}`);
  }

  async restartNode(node: ClusterNode | number): Promise<ClusterNode> {
    if (this.stopping) throw new Error('LocalCluster.restartNode: the cluster was stopped');
    const rn = this.resolve(node);
    const next = await restartNode(rn, this.spec);
    this.runtime[this.runtime.indexOf(rn)] = next;
    return next.node;
  }

  /** The connection arguments redis-cli needs for `node` (exposed for cluster creation). */
  connectArgs(node: ClusterNode | number): readonly string[] {
    return this.resolve(node).cliConnectArgs;
  }

  async cli(node: ClusterNode | number, ...args: string[]): Promise<string> {
    return runCli([...this.resolve(node).cliConnectArgs, ...args]);
  }

  /** TLS flags for redis-cli commands that take addresses (`--cluster create`). */
  tlsArgs(): string[] {
    const t = this.spec.tls;
    return t ? ['--tls', '--cacert', t.caFile, '--cert', t.certFile, '--key', t.keyFile] : [];
  }

  /** The running nodes, in start order. */
  running(): readonly RunningNode[] {
    return this.runtime;
  }

  async waitHealthy(timeoutMs = DEFAULT_HEALTH_TIMEOUT_MS): Promise<void> {
    if (this.stopping) throw new Error('LocalCluster.waitHealthy: the cluster was stopped');
    const started = Date.now();
    await pollUntil('the cluster to become healthy', timeoutMs, () => checkHealth(this.runtime), {
      intervalMs: 100,
      detail: () => logTails(this.runtime),
    });
    this.spec.log(`cluster healthy (${this.nodes.length} nodes) after ${Date.now() - started} ms`);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const results = await Promise.allSettled(this.runtime.map((rn) => stopNode(rn)));
    await rm(this.spec.baseDir, { recursive: true, force: true, maxRetries: 3 });
    untrackDir(this.spec.baseDir);
    this.spec.log(`stopped ${this.runtime.length} redis-server processes, removed ${this.spec.baseDir}`);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0)
      throw new AggregateError(
        failed.map((f) => f.reason),
        `LocalCluster.stop: ${failed.length} node(s) could not be stopped`,
      );
  }
}

/** Slot ranges for `masters` masters, spread as evenly as redis-cli does. */
function slotRanges(masters: number): [number, number][] {
  const out: [number, number][] = [];
  let first = 0;
  for (let i = 0; i < masters; i++) {
    const last = Math.round(((i + 1) * SLOT_COUNT) / masters) - 1;
    out.push([first, last]);
    first = last + 1;
  }
  return out;
}

/** redis-cli refuses fewer than 3 masters: join small clusters by hand (ADDSLOTSRANGE, MEET, REPLICATE). */
async function createByHand(cluster: LocalClusterImpl, masters: number): Promise<void> {
  const rns = cluster.running();
  const ids = await Promise.all(rns.map(async (rn) => String(await sendCommand(rn.endpoint, ['CLUSTER', 'MYID']))));
  const ranges = slotRanges(masters);
  await Promise.all(
    ranges.map(async ([a, b], i) => {
      await sendCommand(rns[i]!.endpoint, ['CLUSTER', 'ADDSLOTSRANGE', String(a), String(b)]);
      await sendCommand(rns[i]!.endpoint, ['CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1)]);
    }),
  );
  const first = rns[0]!;
  await Promise.all(
    rns
      .slice(1)
      .map((rn) =>
        sendCommand(rn.endpoint, [
          'CLUSTER',
          'MEET',
          first.node.host,
          String(first.endpoint.port),
          String(first.endpoint.port + BUS_PORT_OFFSET),
        ]),
      ),
  );
  await pollUntil(
    `all ${rns.length} nodes to know each other`,
    JOIN_TIMEOUT_MS,
    async () => {
      for (const rn of rns) {
        const lines = parseClusterNodes(String(await sendCommand(rn.endpoint, ['CLUSTER', 'NODES'])));
        const known = lines.filter((l) => !l.flags.includes('handshake')).length;
        if (known < rns.length) return `${rn.node.host}:${rn.node.port} knows ${known} of ${rns.length} nodes`;
      }
      return true;
    },
    { intervalMs: 50, detail: () => logTails(rns) },
  );
  await Promise.all(
    rns.slice(masters).map((rn, j) => sendCommand(rn.endpoint, ['CLUSTER', 'REPLICATE', ids[j % masters]!])),
  );
}

/**
 * Starts a throwaway Redis Cluster on loopback: `masters × (1 + replicasPerMaster)` redis-server
 * child processes on free ports (each port and its bus port below 32768), each in its own temp dir,
 * joined with `redis-cli --cluster create` (by hand for fewer than 3 masters), and waits until it
 * is healthy (see {@link LocalCluster.waitHealthy}). Always `stop()` the result; a process 'exit'
 * handler SIGKILLs whatever is left if a run is aborted.
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
 * try {
 *   console.log(cluster.seeds, await cluster.cli(0, 'CLUSTER', 'INFO'));
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<LocalCluster> {
  const masters = positiveInt('masters', opts.masters ?? 3, 1);
  const replicasPerMaster = positiveInt('replicasPerMaster', opts.replicasPerMaster ?? 1, 0);
  const nodeTimeoutMs = positiveInt('nodeTimeoutMs', opts.nodeTimeoutMs ?? 2000, 1);
  const host = opts.host ?? '127.0.0.1';
  if (isIP(host) === 0)
    throw new Error(`startCluster: host must be an IP address such as 127.0.0.1 or ::1 (got ${JSON.stringify(host)})`);
  const log = opts.log ?? ((): void => {});
  redisServerPath();
  redisCliPath();
  const tls = opts.tls ? await readTls(opts.tls) : undefined;

  const baseDir = await mkdtemp(join(tmpdir(), 'slotrelay-cluster-'));
  trackDir(baseDir);
  const spec: NodeSpec = { host, nodeTimeoutMs, extraConfig: opts.extraConfig ?? [], tls, baseDir, log };
  const cluster = new LocalClusterImpl(spec);
  const started = Date.now();
  try {
    const total = masters * (1 + replicasPerMaster);
    const results = await Promise.allSettled(Array.from({ length: total }, () => startNode(spec)));
    for (const r of results) if (r.status === 'fulfilled') await cluster.adopt(r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    log(`${total} redis-server processes up after ${Date.now() - started} ms; creating the cluster`);

    if (masters >= 3) {
      const addrs = cluster.running().map((rn) => `${rn.node.host}:${rn.endpoint.port}`);
      await runCli([
        '--cluster',
        'create',
        ...addrs,
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
        ...cluster.tlsArgs(),
      ]);
    } else {
      await createByHand(cluster, masters);
    }
    await cluster.waitHealthy();
    log(`cluster of ${masters} masters × ${replicasPerMaster} replicas ready after ${Date.now() - started} ms`);
    return cluster;
  } catch (err) {
    await cluster.stop().catch(() => {});
    throw err;
  }
}
