/**
 * The three contenders: (A) Redis itself, (B) the reference pipe and (C) slotrelay, each proxy a
 * separate child process with one listener per Redis node, so its CPU and memory can be read by PID.
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

export type ContenderKey = 'A' | 'B' | 'C';

export const CONTENDER_LABEL: Record<ContenderKey, string> = {
  A: 'A redis direct',
  B: 'B reference pipe',
  C: 'C slotrelay',
};

export interface Contender {
  readonly key: ContenderKey;
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
  return { key: 'A', port: masterPort, ports: [...nodePorts], stop: async () => {} };
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
  return { key: 'B', port: base, ports, child, stop: async () => void (await child.stop()) };
}

/**
 * Starts slotrelay with its real CLI on a six-listener (one per node) dynamic config in a temp
 * file, default middleware, `--log-level warn`. `nodeArgs` go to node (e.g. `--cpu-prof`); `repo`
 * is the checkout whose build runs (another one for an A/B of two builds).
 */
export async function startSlotrelay(
  seeds: readonly string[],
  count: number,
  nodeArgs: readonly string[] = [],
  repo = REPO,
  /** Run with the metrics endpoint on (issue 15's on/off cost), on a port of its own. */
  metrics = false,
): Promise<Contender> {
  const base = await freePortRange(count);
  const metricsPort = metrics ? await freePortRange(1) : undefined;
  const config = validateConfig({
    ...fleetConfig(seeds.slice(0, 2), base, count, HOST),
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
    key: 'C',
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
