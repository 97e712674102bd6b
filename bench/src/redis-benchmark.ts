/**
 * One `redis-benchmark --cluster --csv` run (or, for a single-endpoint peer proxy, `redis-benchmark
 * -r N --csv`): spawned with a time bound, its CSV parsed, and the masters it discovered (its
 * "Master i: <id> <ip:port>" lines) kept, so the harness can tell whether it really talked to the
 * proxies or was handed Redis addresses and bypassed them.
 */
import { startChild } from './child.js';

/** One load shape. `requests` is per test (`-n`). */
export interface LoadShape {
  readonly name: string;
  readonly clients: number;
  readonly pipeline: number;
  readonly requests: number;
  /** Sample every Redis node's connected_clients while this load runs (the many-clients load). */
  readonly redisConnections?: boolean;
}

/** One line of redis-benchmark's CSV: ops/s and latency in milliseconds. */
export interface TestResult {
  rps: number;
  avgMs: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BenchmarkRun {
  /** By test name as redis-benchmark prints it (`SET`, `GET`). */
  tests: Record<string, TestResult>;
  /** Masters redis-benchmark found in CLUSTER NODES: `ip:port` it then connected to. */
  masters: Array<{ id: string; address: string }>;
  wallMs: number;
}

export const BENCHMARK_BIN = 'redis-benchmark';

/** How redis-benchmark addresses a contender. */
export interface DriveOptions {
  /**
   * `--cluster` (default): discover the masters by CLUSTER NODES and connect to each. Off for a
   * single-endpoint proxy (a peer such as predixy), which routes every key itself.
   */
  readonly cluster?: boolean;
  /** `-r N`: random keys out of N (only without `--cluster`, so the keys spread over the masters). */
  readonly randomKeys?: number;
  /**
   * `--threads N` (only without `--cluster`): redis-benchmark 7.0 in cluster mode runs one thread
   * per master; a peer gets as many, so the client side is the same.
   */
  readonly threads?: number;
}

/** `tests` like `set,get`. Rejects on a non-zero exit, missing CSV lines, or after `timeoutMs`. */
export async function runRedisBenchmark(
  host: string,
  port: number,
  shape: LoadShape,
  tests = 'set,get',
  timeoutMs = 300_000,
  drive: DriveOptions = {},
): Promise<BenchmarkRun> {
  const cluster = drive.cluster ?? true;
  const args = [
    '-h',
    host,
    '-p',
    String(port),
    ...(cluster
      ? ['--cluster']
      : [
          ...(drive.randomKeys ? ['-r', String(drive.randomKeys)] : []),
          ...(drive.threads ? ['--threads', String(drive.threads)] : []),
        ]),
    '--csv',
    '-t',
    tests,
    '-c',
    String(shape.clients),
    '-P',
    String(shape.pipeline),
    '-n',
    String(shape.requests),
  ];
  let out = '';
  const started = Date.now();
  const child = startChild(BENCHMARK_BIN, args, { onStdout: (s) => (out += s) });
  const timer = setTimeout(() => void child.stop(2000), timeoutMs);
  const how = await child.exited;
  clearTimeout(timer);
  const wallMs = Date.now() - started;
  const cmd = `${BENCHMARK_BIN} ${args.join(' ')}`;
  if (how !== '0')
    throw new Error(
      `${cmd}: exited ${how}${Date.now() - started >= timeoutMs ? ` (time limit ${timeoutMs} ms)` : ''}:\n${child.tail().trim()}`,
    );
  const run = parseBenchmarkOutput(out);
  const want = tests.split(',').map((t) => t.toUpperCase());
  const missing = want.filter((t) => !run.tests[t]);
  if (missing.length) throw new Error(`${cmd}: no CSV result for ${missing.join(', ')}:\n${out.slice(-2000)}`);
  return { ...run, wallMs };
}

/** Parses `--csv` output (and the cluster preamble before it). */
export function parseBenchmarkOutput(out: string): Omit<BenchmarkRun, 'wallMs'> {
  const tests: Record<string, TestResult> = {};
  const masters: Array<{ id: string; address: string }> = [];
  for (const raw of out.split(/\r?\n|\r/)) {
    const line = raw.trim();
    const m = /^Master \d+: ([0-9a-f]+) (\S+)$/.exec(line);
    if (m) {
      masters.push({ id: m[1]!, address: m[2]! });
      continue;
    }
    if (!line.startsWith('"') || line.startsWith('"test"')) continue;
    const f = line.split(',').map((s) => s.replace(/^"|"$/g, ''));
    if (f.length < 8) continue;
    const n = f.slice(1, 8).map(Number);
    if (n.some((x) => !Number.isFinite(x))) continue;
    tests[f[0]!] = { rps: n[0]!, avgMs: n[1]!, minMs: n[2]!, p50Ms: n[3]!, p95Ms: n[4]!, p99Ms: n[5]!, maxMs: n[6]! };
  }
  return { tests, masters };
}
