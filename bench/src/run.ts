#!/usr/bin/env node
/**
 * The benchmark harness (`npm run bench`). Starts a local 6-node Redis Cluster, then runs
 * `redis-benchmark --cluster` against (A) Redis directly, (B) the reference pipe and (C) slotrelay,
 * interleaved A,B,C within each round; measures the proxies' CPU and memory by PID; writes
 * bench/results/<YYYY-MM-DD-HHMM>.json and prints a markdown report. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ClusterNode, parseClusterNodes } from '@slotrelay/core/internal';
import { type LocalCluster, keySlot, startCluster } from '@slotrelay/local-cluster';
import {
  CONTENDER_LABEL,
  type Contender,
  type ContenderKey,
  HOST,
  REPO,
  redisDirect,
  startReferencePipe,
  startSlotrelay,
} from './contenders.js';
import { checkDiscovery, query } from './discovery-check.js';
import { cpuSeconds, machineInfo, memory, openFileLimit, syscalls } from './proc.js';
import { type LoadShape, runRedisBenchmark } from './redis-benchmark.js';
import { KEYS, type Results, type RunRecord, markdown, ratios, shapeLabel, summarize } from './report.js';
import { type SessionMemory, measureSessions } from './sessions-memory.js';
import { profileTable, summarizeProfile, type ProfileSummary } from './cpu-profile.js';

const USAGE = `usage: node bench/dist/run.js [--quick] [--profile] [--rounds N] [--sessions N] [--skip-memory]

  --quick        smoke run: 1 round, small -n, 100 sessions (CI; the numbers mean nothing)
  --profile      instead of the comparison: run the reference pipe and slotrelay under node
                 --cpu-prof for one -P 16 and one -P 1 run each, print the top 25 self-time
                 functions of each
  --rounds N     rounds of A,B,C (default 3)
  --sessions N   sessions for the memory test (default 1000)
  --skip-memory  skip the memory-per-session test
`;

/**
 * -n per test. redis-benchmark 7.0 --cluster rounds elapsed time up to 250 ms, so every run must
 * last seconds even for the fastest contender (Redis directly does ~200k/s at -P 1 and up to
 * ~2M/s at -P 16 on 2 cores): at least 200,000 at -P 1 and 1,000,000 at -P 16, more here.
 */
const FULL_SHAPES: LoadShape[] = [
  { name: 'c50-P1', clients: 50, pipeline: 1, requests: 500_000 },
  { name: 'c50-P16', clients: 50, pipeline: 16, requests: 5_000_000 },
  { name: 'c1-P1', clients: 1, pipeline: 1, requests: 150_000 },
];
const QUICK_SHAPES: LoadShape[] = [
  { name: 'c50-P1', clients: 50, pipeline: 1, requests: 20_000 },
  { name: 'c50-P16', clients: 50, pipeline: 16, requests: 100_000 },
  { name: 'c1-P1', clients: 1, pipeline: 1, requests: 5_000 },
];
const PIPELINE_DEPTH = 16;

const t0 = Date.now();
function log(line: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
}

/** Everything started, stopped in reverse order on the way out (also on Ctrl-C). */
const stoppers = new Map<object, () => Promise<unknown>>();
async function stopAll(): Promise<void> {
  for (const [key, stop] of [...stoppers].reverse()) {
    stoppers.delete(key);
    try {
      await stop();
    } catch (e) {
      log(`cleanup: ${(e as Error).message}`);
    }
  }
}
function track(c: Contender): Contender {
  stoppers.set(c, () => c.stop());
  return c;
}
/** Stop one contender now. */
async function release(c: Contender): Promise<void> {
  stoppers.delete(c);
  await c.stop();
}

function stampOf(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

function preflight(): void {
  try {
    execFileSync('redis-benchmark', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-benchmark not found (Debian: apt-get install -y redis-tools)');
  }
  for (const f of ['bench/dist/reference-pipe.js', 'packages/host/dist/cli.js']) {
    if (!fs.existsSync(path.join(REPO, f))) throw new Error(`${f} is missing: build first (npm run build)`);
  }
}

function clusterCmdsIsPlaceholder(): boolean {
  try {
    return /Placeholder/.test(
      fs.readFileSync(path.join(REPO, 'packages/middleware-cluster-cmds/dist/index.js'), 'utf8'),
    );
  } catch {
    return false;
  }
}

async function clusterNodes(cluster: LocalCluster): Promise<ClusterNode[]> {
  const [reply] = await query(cluster.nodes[0]!.port, [['CLUSTER', 'NODES']]);
  if (!reply?.data) throw new Error('CLUSTER NODES failed on the local cluster');
  return parseClusterNodes(reply.data.toString('utf8')).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * For listener k (node k in node-ID order), a key that node serves: its own slots, or its
 * master's for a replica (the memory test sends READONLY). Each key is SET on its master.
 */
async function keysForListeners(nodes: readonly ClusterNode[]): Promise<string[]> {
  const keys: string[] = [];
  for (const n of nodes) {
    const master = n.role === 'master' ? n : nodes.find((m) => m.id === n.masterId);
    if (!master) throw new Error(`node ${n.id} has no master in CLUSTER NODES`);
    const owns = (slot: number) => master.slots.some(([lo, hi]) => slot >= lo && slot <= hi);
    let key: string | undefined;
    for (let i = 0; i < 100_000 && key === undefined; i++) if (owns(keySlot(`bench:mem:${i}`))) key = `bench:mem:${i}`;
    if (!key) throw new Error(`no key found for the slots of ${master.id}`);
    await query(master.port, [['SET', key, 'x'.repeat(64)]]);
    keys.push(key);
  }
  return keys;
}

function alive(c: Contender): boolean {
  return !c.child || (c.child.proc.exitCode === null && c.child.proc.signalCode === null);
}

async function benchRun(c: Contender, shape: LoadShape, round: number): Promise<RunRecord> {
  const rec: RunRecord = {
    round,
    contender: c.key,
    shape: shape.name,
    clients: shape.clients,
    pipeline: shape.pipeline,
    requests: shape.requests,
    tests: {},
    masters: [],
    throughContender: false,
    wallMs: 0,
    proxyCpuSeconds: null,
    cpuSecondsPerMillion: null,
    readsPerThousand: null,
    writesPerThousand: null,
  };
  if (!alive(c)) {
    rec.error = `proxy process exited (${c.child!.proc.exitCode ?? c.child!.proc.signalCode})`;
    return rec;
  }
  const pid = c.child?.pid;
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const sys0 = pid ? syscalls(pid) : null;
  try {
    // Bound: assume at least 3k ops/s (a -c 1 run through a Node hop on a busy 2-core machine does
    // 5–7k), never less than a minute.
    const timeoutMs = Math.max(60_000, ((2 * shape.requests) / 3_000) * 1000);
    const run = await runRedisBenchmark(HOST, c.port, shape, 'set,get', timeoutMs);
    rec.tests = run.tests;
    rec.masters = run.masters.map((m) => m.address);
    rec.wallMs = run.wallMs;
    const own = new Set(c.ports);
    rec.throughContender =
      run.masters.length > 0 &&
      run.masters.every((m) => own.has(Number(m.address.slice(m.address.lastIndexOf(':') + 1))));
  } catch (e) {
    rec.error = (e as Error).message;
  }
  if (pid && alive(c)) {
    rec.proxyCpuSeconds = Math.round((cpuSeconds(pid) - cpu0) * 100) / 100;
    rec.cpuSecondsPerMillion = Math.round((rec.proxyCpuSeconds / ((2 * shape.requests) / 1e6)) * 1000) / 1000;
    const sys1 = syscalls(pid);
    const perK = (n: number) => Math.round((n / ((2 * shape.requests) / 1000)) * 10) / 10;
    rec.readsPerThousand = perK(sys1.reads - sys0!.reads);
    rec.writesPerThousand = perK(sys1.writes - sys0!.writes);
  }
  return rec;
}

function describeRun(r: RunRecord): string {
  if (r.error) return `ERROR ${r.error.split('\n')[0]}`;
  const t = (name: string) =>
    r.tests[name]
      ? `${name} ${Math.round(r.tests[name]!.rps).toLocaleString('en-US')}/s p50 ${r.tests[name]!.p50Ms} p99 ${r.tests[name]!.p99Ms}`
      : `${name} –`;
  const cpu =
    r.cpuSecondsPerMillion !== null
      ? `, proxy ${r.cpuSecondsPerMillion} CPU-s/M, ${r.readsPerThousand}+${r.writesPerThousand} syscalls/1k`
      : '';
  return `${t('SET')}; ${t('GET')}${cpu}${r.throughContender ? '' : ` ⚠ masters ${r.masters.join(' ')}`}`;
}

async function memoryTest(
  key: 'B' | 'C',
  cluster: LocalCluster,
  keys: string[],
  sessions: number,
  seconds: number,
): Promise<SessionMemory | { error: string }> {
  const n = cluster.nodes.length;
  let c: Contender | null = null;
  try {
    c = track(key === 'B' ? await startReferencePipe(cluster.seeds[0]!, n) : await startSlotrelay(cluster.seeds, n));
    log(
      `memory ${CONTENDER_LABEL[key]} (pid ${c.child!.pid}): ${sessions} sessions, then ${PIPELINE_DEPTH} GETs in flight each for ${seconds} s`,
    );
    const m = await measureSessions(c.child!.pid, c.ports, keys, { sessions, depth: PIPELINE_DEPTH, seconds });
    log(
      `memory ${CONTENDER_LABEL[key]}: ${(m.rssBefore / 2 ** 20).toFixed(1)} MB before, idle ${(m.bytesPerSessionIdle / 1024).toFixed(1)} KB/session, pipelining ${(m.bytesPerSessionPipelining / 1024).toFixed(1)} KB/session, ${m.gets} GETs, ${m.errors} errors`,
    );
    return m;
  } catch (e) {
    log(`memory ${CONTENDER_LABEL[key]}: ${(e as Error).message}`);
    return { error: (e as Error).message.split('\n')[0]! };
  } finally {
    if (c) await release(c);
  }
}

async function runComparison(
  cluster: LocalCluster,
  opts: { quick: boolean; rounds: number; sessions: number; skipMemory: boolean; startedAt: Date },
): Promise<Results> {
  const shapes = opts.quick ? QUICK_SHAPES : FULL_SHAPES;
  const n = cluster.nodes.length;
  const notes: string[] = [];
  const nodes = await clusterNodes(cluster);
  const masterPort = nodes.find((x) => x.role === 'master')!.port;
  const contenders: Record<ContenderKey, Contender> = {
    A: redisDirect(
      masterPort,
      cluster.nodes.map((x) => x.port),
    ),
    B: track(await startReferencePipe(cluster.seeds[0]!, n)),
    C: track(await startSlotrelay(cluster.seeds, n)),
  };
  log(
    `B reference pipe pid ${contenders.B.child!.pid} on ${contenders.B.ports.join(',')}; C slotrelay pid ${contenders.C.child!.pid} on ${contenders.C.ports.join(',')}`,
  );
  const discovery = {
    B: await checkDiscovery(contenders.B.port, contenders.B.ports),
    C: await checkDiscovery(contenders.C.port, contenders.C.ports),
  };
  for (const k of ['B', 'C'] as const) {
    const d = discovery[k];
    log(`${CONTENDER_LABEL[k]} discovery: NODES → ${d.nodes}; SLOTS → ${d.slots}; MOVED → ${d.moved}`);
  }
  if (!discovery.C.ok) {
    notes.push(
      clusterCmdsIsPlaceholder()
        ? 'C: @slotrelay/middleware-cluster-cmds is still a placeholder, so CLUSTER NODES through slotrelay names Redis and redis-benchmark bypasses slotrelay: C figures are not a measurement of slotrelay yet.'
        : 'C: slotrelay did not rewrite every address a client learns (see discovery above); C figures marked ⚠ bypassed slotrelay.',
    );
  }
  // Warm-up (JIT, topology discovery), not measured.
  for (const k of ['B', 'C'] as const) {
    try {
      await runRedisBenchmark(
        HOST,
        contenders[k].port,
        { name: 'warmup', clients: 50, pipeline: 16, requests: opts.quick ? 5_000 : 50_000 },
        'set,get',
        60_000,
      );
    } catch (e) {
      log(`warm-up ${CONTENDER_LABEL[k]}: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  const runs: RunRecord[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const shape of shapes) {
      for (const k of KEYS) {
        const rec = await benchRun(contenders[k], shape, round);
        runs.push(rec);
        log(`round ${round}/${opts.rounds} ${shapeLabel(shape)} -n ${shape.requests} ${k}: ${describeRun(rec)}`);
      }
    }
  }
  const peak = (k: 'B' | 'C') => (alive(contenders[k]) ? memory(contenders[k].child!.pid).hwm : null);
  const perShape = summarize(runs, shapes);
  const summary: Results['summary'] = {
    A: { shapes: perShape.A, peakRssBytes: null, discovery: null },
    B: { shapes: perShape.B, peakRssBytes: peak('B'), discovery: discovery.B },
    C: { shapes: perShape.C, peakRssBytes: peak('C'), discovery: discovery.C },
  };
  await release(contenders.B);
  await release(contenders.C);

  const memoryResults: Results['memory'] = {};
  if (!opts.skipMemory) {
    const keys = await keysForListeners(nodes);
    const seconds = opts.quick ? 1 : 4;
    memoryResults.B = await memoryTest('B', cluster, keys, opts.sessions, seconds);
    memoryResults.C = await memoryTest('C', cluster, keys, opts.sessions, seconds);
  }
  return {
    kind: 'bench',
    startedAt: opts.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: opts.quick,
    rounds: opts.rounds,
    machine: machineInfo(),
    shapes,
    cluster: nodes.map((x) => ({ id: x.id, port: x.port, role: x.role })),
    runs,
    summary,
    ratios: ratios(summary, shapes),
    memory: memoryResults,
    notes,
  };
}

async function runProfile(
  cluster: LocalCluster,
  opts: { quick: boolean; stamp: string },
): Promise<{
  kind: 'profile';
  profiles: Array<{ contender: ContenderKey; shape: LoadShape; run: RunRecord; profile: ProfileSummary }>;
}> {
  const dir = path.join(REPO, 'bench', 'results', 'profiles');
  fs.mkdirSync(dir, { recursive: true });
  const shapes = (opts.quick ? QUICK_SHAPES : FULL_SHAPES).filter((s) => s.clients === 50);
  const out: Array<{ contender: ContenderKey; shape: LoadShape; run: RunRecord; profile: ProfileSummary }> = [];
  // The reference pipe is profiled too: where slotrelay's time differs from the bare pipe's is
  // what there is to win.
  const starters = {
    B: (args: readonly string[]) => startReferencePipe(cluster.seeds[0]!, cluster.nodes.length, args),
    C: (args: readonly string[]) => startSlotrelay(cluster.seeds, cluster.nodes.length, args),
  } as const;
  for (const shape of [...shapes].sort((a, b) => b.pipeline - a.pipeline)) {
    for (const key of ['B', 'C'] as const) {
      const name = `${key === 'B' ? 'ref-pipe' : 'slotrelay'}-${opts.stamp}-${shape.name}.cpuprofile`;
      const c = track(await starters[key](['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', name]));
      const d = await checkDiscovery(c.port, c.ports);
      if (!d.ok)
        log(
          `⚠ ${CONTENDER_LABEL[key]} discovery: NODES → ${d.nodes}; SLOTS → ${d.slots}; MOVED → ${d.moved} — the profile will miss the data path`,
        );
      const run = await benchRun(c, shape, 1);
      log(`profile ${CONTENDER_LABEL[key]} ${shapeLabel(shape)} -n ${shape.requests}: ${describeRun(run)}`);
      await release(c);
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) throw new Error(`no profile written at ${file}`);
      const profile = summarizeProfile(file, REPO);
      out.push({ contender: key, shape, run, profile });
      process.stdout.write(
        `\n### ${CONTENDER_LABEL[key]} CPU profile, ${shapeLabel(shape)} -n ${shape.requests.toLocaleString('en-US')}: top ${profile.top.length} self time\n\n${profileTable(profile)}\n`,
      );
    }
  }
  return { kind: 'profile', profiles: out };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      sessions: { type: 'string' },
      'skip-memory': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const quick = values.quick!;
  const rounds = values.rounds ? Number(values.rounds) : quick ? 1 : 3;
  let sessions = values.sessions ? Number(values.sessions) : quick ? 100 : 1000;
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(sessions) || sessions < 1) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  preflight();
  // The proxy holds 2 fds per session, this process 1; both inherit this limit.
  const limit = openFileLimit();
  if (!values['skip-memory'] && limit < 2 * sessions + 200) {
    const fit = Math.max(10, Math.floor((limit - 200) / 2));
    log(
      `open-file limit ${limit} is too low for ${sessions} sessions (each needs 2 fds in the proxy); using ${fit} (raise it with ulimit -n)`,
    );
    sessions = fit;
  }
  const startedAt = new Date();
  const stamp = stampOf(startedAt);
  const resultsDir = path.join(REPO, 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });

  log('starting a local 6-node Redis Cluster (3 masters, 3 replicas)');
  const cluster = await startCluster();
  stoppers.set(cluster, () => cluster.stop());
  log(`cluster up: ${cluster.nodes.map((x) => `${x.port} ${x.role}`).join(', ')}`);
  try {
    if (values.profile) {
      const res = await runProfile(cluster, { quick, stamp });
      const file = path.join(resultsDir, `${stamp}-profile${quick ? '-quick' : ''}.json`);
      fs.writeFileSync(
        file,
        `${JSON.stringify({ startedAt: startedAt.toISOString(), machine: machineInfo(), ...res }, null, 2)}\n`,
      );
      log(`wrote ${path.relative(process.cwd(), file)}`);
    } else {
      const res = await runComparison(cluster, {
        quick,
        rounds,
        sessions,
        skipMemory: values['skip-memory']!,
        startedAt,
      });
      const file = path.join(resultsDir, `${stamp}${quick ? '-quick' : ''}.json`);
      fs.writeFileSync(file, `${JSON.stringify(res, null, 2)}\n`);
      process.stdout.write(`${markdown(res)}\n`);
      log(`wrote ${path.relative(process.cwd(), file)}`);
      if (res.runs.some((r) => r.error)) process.exitCode = 1;
    }
  } finally {
    await stopAll();
  }
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${sig}: stopping everything`);
    stopAll().finally(() => process.exit(130));
  });
}

main().catch(async (e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  await stopAll();
  process.exit(1);
});
