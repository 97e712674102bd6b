/**
 * The contenders: (A) Redis itself, (B) the reference pipe, (C) slotrelay (and C', a second
 * slotrelay process for an A/A pair), each proxy a separate child process with one listener per
 * Redis node, so its CPU and memory can be read by PID; and peers (`--peer NAME=COMMAND`, e.g.
 * predixy): another proxy binary started from a shell command line, one listening port.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetConfig, validateConfig } from '@slotrelay/host';
import { type Child, freePortRange, startChild, waitListening } from './child.js';

export const HOST = '127.0.0.1';
/** The repository root (this file is bench/dist/contenders.js). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** 'A', 'B', 'C', "C'" (the A/A twin of C) or a peer's name. */
export type ContenderKey = string;

const LABELS: Record<string, string> = {
  A: 'A redis direct',
  B: 'B reference pipe',
  C: 'C slotrelay',
  "C'": "C' slotrelay (A/A twin)",
};

/** `A redis direct`, `C slotrelay`, … ; a peer is labelled `peer <name>`. */
export function contenderLabel(key: ContenderKey): string {
  return LABELS[key] ?? `peer ${key}`;
}

export interface Contender {
  readonly key: ContenderKey;
  /** How redis-benchmark is pointed at it: `--cluster` (A, B, C) or plain `-r` for a peer. */
  readonly cluster: boolean;
  /** The process name (/proc/<pid>/comm) whose CPU and memory are read, for the report. */
  readonly comm?: string;
  /** slotrelay's `multiplex` key as written into its config (absent: left out = product default). */
  readonly multiplex?: boolean;
  /** The port redis-benchmark is pointed at. */
  readonly port: number;
  /** Every port of this contender: the proxy listeners, or for A the Redis nodes. */
  readonly ports: readonly number[];
  /** The proxy process (absent for A). */
  readonly child?: Child;
  /** The port of slotrelay's `/metrics` endpoint, when it runs with metrics on. */
  readonly metricsPort?: number;
  stop(): Promise<void>;
}

export function redisDirect(masterPort: number, nodePorts: readonly number[]): Contender {
  return { key: 'A', cluster: true, port: masterPort, ports: [...nodePorts], stop: async () => {} };
}

/** Starts the reference pipe on `count` free ports (it must discover exactly `count` nodes). */
export async function startReferencePipe(
  seed: string,
  count: number,
  nodeArgs: readonly string[] = [],
): Promise<Contender> {
  const base = await freePortRange(count);
  const script = path.join(REPO, 'bench', 'dist', 'reference-pipe.js');
  const child = startChild(
    process.execPath,
    [...nodeArgs, script, '--seed', seed, '--base-port', String(base), '--host', HOST],
    { cwd: REPO },
  );
  const ports = Array.from({ length: count }, (_, i) => base + i);
  try {
    await waitListening(child, HOST, ports);
  } catch (e) {
    await child.stop(2000);
    throw e;
  }
  return {
    key: 'B',
    cluster: true,
    comm: processName(child.pid),
    port: base,
    ports,
    child,
    stop: async () => void (await child.stop()),
  };
}

/** Per-connection keys of slotrelay's config that the bench can set (issue 16). */
export interface SlotrelayOptions {
  /** Contender key (default 'C'; "C'" for the A/A twin). */
  key?: ContenderKey;
  /** `multiplex` on every connection; undefined leaves the key out (the product default). */
  multiplex?: boolean;
  /** `upstreamPool: { size }` on every connection; undefined leaves it out. */
  upstreamPoolSize?: number;
}

/**
 * Starts slotrelay with its real CLI on a six-listener (one per node) dynamic config in a temp
 * file, default middleware, `--log-level warn`. `nodeArgs` go to node (e.g. `--cpu-prof`); `repo`
 * is the checkout whose build runs (another one for an A/B of two builds); `opts` sets issue 16's
 * per-connection keys.
 */
export async function startSlotrelay(
  seeds: readonly string[],
  count: number,
  nodeArgs: readonly string[] = [],
  repo = REPO,
  /** Run with the metrics endpoint on (issue 15's on/off cost), on a port of its own. */
  metrics = false,
  opts: SlotrelayOptions = {},
): Promise<Contender> {
  const base = await freePortRange(count);
  const metricsPort = metrics ? await freePortRange(1) : undefined;
  const fleet = fleetConfig(seeds.slice(0, 2), base, count, HOST);
  const config = validateConfig({
    ...fleet,
    connections: fleet.connections.map((c) => ({
      ...c,
      ...(opts.multiplex === undefined ? {} : { multiplex: opts.multiplex }),
      ...(opts.upstreamPoolSize === undefined ? {} : { upstreamPool: { size: opts.upstreamPoolSize } }),
    })),
    ...(metricsPort === undefined ? {} : { metrics: { address: HOST, port: metricsPort } }),
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-bench-'));
  const file = path.join(dir, 'slotrelay.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const cli = path.join(repo, 'packages', 'host', 'bin', 'slotrelay.js');
  const child = startChild(process.execPath, [...nodeArgs, cli, '--config', file, '--log-level', 'warn'], {
    cwd: repo,
  });
  const ports = Array.from({ length: count }, (_, i) => base + i);
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await waitListening(child, HOST, ports);
  } catch (e) {
    await child.stop(2000);
    cleanup();
    throw e;
  }
  return {
    key: opts.key ?? 'C',
    cluster: true,
    comm: processName(child.pid),
    ...(opts.multiplex === undefined ? {} : { multiplex: opts.multiplex }),
    port: base,
    ports,
    child,
    ...(metricsPort === undefined ? {} : { metricsPort }),
    stop: async () => {
      await child.stop();
      cleanup();
    },
  };
}

/** /proc/<pid>/comm: the name of the process whose CPU and memory the harness reads. */
export function processName(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** A `--peer NAME=COMMAND` argument. */
export interface PeerSpec {
  readonly name: string;
  readonly command: string;
}

/** Parses `NAME=COMMAND`; NAME is letters, digits, `-`, `_` and must not be one of A, B, C, C'. */
export function parsePeer(arg: string): PeerSpec {
  const eq = arg.indexOf('=');
  const name = eq > 0 ? arg.slice(0, eq) : '';
  const command = eq > 0 ? arg.slice(eq + 1).trim() : '';
  if (!/^[A-Za-z0-9_-]+$/.test(name) || !command || name in LABELS)
    throw new Error(`--peer ${arg}: expected NAME=COMMAND (NAME of letters, digits, - or _, not A/B/C)`);
  return { name, command };
}

/**
 * Starts a peer proxy: `COMMAND` run as `/bin/sh -c 'exec COMMAND'` (so the PID is the command's,
 * and a wrapper script must itself `exec` the proxy), after substituting `{port}` (a free port it
 * must listen on, 127.0.0.1), `{seeds}` (comma-separated host:port of the cluster's masters) and
 * `{dir}` (a fresh temp directory for its config or logs, removed after it stops). Ready when
 * {port} accepts connections.
 */
export async function startPeer(
  spec: PeerSpec,
  masters: readonly string[],
  readyTimeoutMs = 20_000,
): Promise<Contender> {
  const port = await freePortRange(1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `slotrelay-bench-peer-${spec.name}-`));
  const command = spec.command
    .replaceAll('{port}', String(port))
    .replaceAll('{seeds}', masters.join(','))
    .replaceAll('{dir}', dir);
  const child = startChild('/bin/sh', ['-c', `exec ${command}`], { cwd: REPO });
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await waitListening(child, HOST, [port], readyTimeoutMs);
  } catch (e) {
    await child.stop(2000);
    cleanup();
    throw new Error(`peer ${spec.name} (${command}): ${(e as Error).message}`, { cause: e });
  }
  return {
    key: spec.name,
    cluster: false,
    comm: processName(child.pid),
    port,
    ports: [port],
    child,
    stop: async () => {
      await child.stop();
      cleanup();
    },
  };
}
