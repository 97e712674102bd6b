#!/usr/bin/env node
/**
 * The benchmark harness (`npm run bench`). Starts a local 6-node Redis Cluster, then runs
 * `redis-benchmark --cluster` against (A) Redis directly, (B) the reference pipe and (C) slotrelay
 * (with --aa also C', a second slotrelay process), and `redis-benchmark -r` against each peer proxy
 * (--peer NAME=COMMAND, e.g. predixy), interleaved within each round; measures the proxies' CPU and
 * memory by PID and, under the many-clients load, the connections each opens to every Redis node;
 * writes bench/results/<YYYY-MM-DD-HHMM>.json and prints a markdown report. See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ClusterNode, parseClusterNodes } from '@slotrelay/core/internal';
import { type LocalCluster, keySlot, startCluster } from '@slotrelay/local-cluster';
import {
  type Contender,
  type ContenderKey,
  HOST,
  type PeerSpec,
  REPO,
  type SlotrelayOptions,
  contenderLabel,
  parsePeer,
  redisDirect,
  startPeer,
  startReferencePipe,
  startSlotrelay,
} from './contenders.js';
import { checkDiscovery, query } from './discovery-check.js';
import { cpuSeconds, machineInfo, memory, openFileLimit, syscalls } from './proc.js';
import { connectionBaseline, pollConnections } from './redis-connections.js';
import { type DriveOptions, type LoadShape, runRedisBenchmark } from './redis-benchmark.js';
import {
  type ContenderInfo,
  type Results,
  type RunRecord,
  aaSpread,
  markdown,
  ratios,
  shapeLabel,
  summarize,
} from './report.js';
import { type SessionMemory, measureSessions } from './sessions-memory.js';
import { profileTable, summarizeProfile, type ProfileSummary } from './cpu-profile.js';

const USAGE = `usage: node bench/dist/run.js [--quick] [--profile] [--rounds N] [--scale F] [--sessions N]
         [--skip-memory] [--peer NAME=COMMAND]... [--aa] [--multiplex on|off] [--multiplex-other on|off]
         [--upstream-pool N] [--shapes NAME,NAME...]

  --quick              smoke run: 1 round, small -n, 100 sessions (CI; the numbers mean nothing)
  --profile            instead of the comparison: run the reference pipe and slotrelay under node
                       --cpu-prof for one -P 16 and one -P 1 run each, print the top 25 self-time
                       functions of each
  --rounds N           rounds (default 3)
  --scale F            multiply every -n by F (e.g. 0.5 for a shorter run; runs under 2 s are listed)
  --sessions N         sessions for the memory test (default 1000; 10000 for the many-idle-sessions case)
  --skip-memory        skip the memory-per-session test
  --peer NAME=COMMAND  another proxy as a contender (repeatable). COMMAND is run as
                       sh -c 'exec COMMAND' after substituting {port} (the port it must listen on,
                       127.0.0.1), {seeds} (host:port,host:port,... of the masters) and {dir} (a temp
                       dir); driven with redis-benchmark -r 100000 --threads <masters> (no
                       --cluster). Example:
                       --peer 'predixy=bench/peers/predixy.sh {port} {seeds} {dir}'
  --aa                 also run C', a second slotrelay process, so the C/C' spread shows the noise
  --multiplex on|off   write multiplex: true|false into every connection of C's config
                       (default: leave the key out = product default)
  --multiplex-other on|off   the same for C' (default: as C)
  --upstream-pool N    write upstreamPool: { size: N } into every connection of C and C'
  --shapes LIST        only these loads (of c50-P1, c50-P16, c1-P1, c1000-P1), e.g. to re-measure
                       one target; the committed run measures them all
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
  // Many clients: what each contender opens towards Redis (connected_clients per node, sampled).
  { name: 'c1000-P1', clients: 1000, pipeline: 1, requests: 500_000, redisConnections: true },
];
const QUICK_SHAPES: LoadShape[] = [
  { name: 'c50-P1', clients: 50, pipeline: 1, requests: 20_000 },
  { name: 'c50-P16', clients: 50, pipeline: 16, requests: 100_000 },
  { name: 'c1-P1', clients: 1, pipeline: 1, requests: 5_000 },
  { name: 'c1000-P1', clients: 1000, pipeline: 1, requests: 20_000, redisConnections: true },
];
/** Keys of a peer's load (`-r`): spread over all masters, as --cluster spreads clients. */
const PEER_RANDOM_KEYS = 100_000;

/**
 * How redis-benchmark drives a contender: `--cluster` for A/B/C; for a single-endpoint peer, `-r`
 * and as many threads as --cluster would start (one per master), so the client side matches.
 */
function driveOf(c: Contender, masters: number): DriveOptions {
  return c.cluster ? {} : { cluster: false, randomKeys: PEER_RANDOM_KEYS, threads: masters };
}
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

async function benchRun(
  c: Contender,
  shape: LoadShape,
  round: number,
  redisPorts: readonly number[] = [],
  masters = 3,
): Promise<RunRecord> {
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
  const sampleConnections = shape.redisConnections === true && redisPorts.length > 0;
  const baseline = sampleConnections ? await connectionBaseline(redisPorts) : [];
  const pid = c.child?.pid;
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const sys0 = pid ? syscalls(pid) : null;
  // Bound: assume at least 3k ops/s (a -c 1 run through a Node hop on a busy 2-core machine does
  // 5–7k), never less than a minute.
  const timeoutMs = Math.max(60_000, ((2 * shape.requests) / 3_000) * 1000);
  const poll = sampleConnections ? pollConnections(redisPorts, pid, 200, timeoutMs + 10_000) : null;
  try {
    const run = await runRedisBenchmark(HOST, c.port, shape, 'set,get', timeoutMs, driveOf(c, masters));
    rec.tests = run.tests;
    rec.masters = run.masters.map((m) => m.address);
    rec.wallMs = run.wallMs;
    const own = new Set(c.ports);
    // A single-endpoint peer is not told any address: everything goes through its one port.
    rec.throughContender =
      !c.cluster ||
      (run.masters.length > 0 &&
        run.masters.every((m) => own.has(Number(m.address.slice(m.address.lastIndexOf(':') + 1)))));
  } catch (e) {
    rec.error = (e as Error).message;
  }
  if (poll) {
    const peaks = await poll.stop();
    rec.redisConnections = peaks.redis.map((x, j) =>
      Number.isFinite(baseline[j]) ? Math.max(0, x - baseline[j]!) : NaN,
    );
    rec.heldConnections = peaks.held;
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
  const conns = r.redisConnections
    ? `, Redis connections per node +${r.redisConnections.join('/+')}${r.heldConnections ? ` (held by the proxy ${r.heldConnections.join('/')})` : ''}`
    : '';
  return `${t('SET')}; ${t('GET')}${cpu}${conns}${r.throughContender ? '' : ` ⚠ masters ${r.masters.join(' ')}`}`;
}

async function memoryTest(
  key: 'B' | 'C' | "C'",
  cluster: LocalCluster,
  keys: string[],
  sessions: number,
  seconds: number,
  slotrelay: SlotrelayOptions,
): Promise<SessionMemory | { error: string }> {
  const n = cluster.nodes.length;
  const label = contenderLabel(key);
  let c: Contender | null = null;
  try {
    c = track(
      key === 'B'
        ? await startReferencePipe(cluster.seeds[0]!, n)
        : await startSlotrelay(cluster.seeds, n, [], REPO, false, { ...slotrelay, key }),
    );
    log(
      `memory ${label} (pid ${c.child!.pid}): ${sessions} sessions, then ${PIPELINE_DEPTH} GETs in flight each for ${seconds} s`,
    );
    const m = await measureSessions(c.child!.pid, c.ports, keys, { sessions, depth: PIPELINE_DEPTH, seconds });
    log(
      `memory ${label}: ${(m.rssBefore / 2 ** 20).toFixed(1)} MB before, idle ${(m.bytesPerSessionIdle / 1024).toFixed(1)} KB/session, pipelining ${(m.bytesPerSessionPipelining / 1024).toFixed(1)} KB/session, fds ${m.fdsBefore} → ${m.fdsIdle} idle, ${m.gets} GETs, ${m.errors} errors`,
    );
    return m;
  } catch (e) {
    log(`memory ${label}: ${(e as Error).message}`);
    return { error: (e as Error).message.split('\n')[0]! };
  } finally {
    if (c) await release(c);
  }
}

interface ComparisonOptions {
  quick: boolean;
  rounds: number;
  scale: number;
  sessions: number;
  skipMemory: boolean;
  startedAt: Date;
  peers: readonly PeerSpec[];
  aa: boolean;
  /** Load names to run (null: all). */
  only: readonly string[] | null;
  /** C's and C''s issue-16 config keys. */
  slotrelay: SlotrelayOptions;
  slotrelayOther: SlotrelayOptions;
}

/** -n scaled, never under 1,000. */
function scaled(shapes: readonly LoadShape[], scale: number): LoadShape[] {
  return shapes.map((x) => ({ ...x, requests: Math.max(1000, Math.round(x.requests * scale)) }));
}

async function runComparison(cluster: LocalCluster, opts: ComparisonOptions): Promise<Results> {
  const all = opts.quick ? QUICK_SHAPES : FULL_SHAPES;
  const shapes = scaled(opts.only ? all.filter((x) => opts.only!.includes(x.name)) : all, opts.scale);
  const n = cluster.nodes.length;
  const notes: string[] = [];
  const nodes = await clusterNodes(cluster);
  const masterPort = nodes.find((x) => x.role === 'master')!.port;
  const masters = nodes.filter((x) => x.role === 'master').map((x) => `${HOST}:${x.port}`);
  const contenders = new Map<ContenderKey, Contender>();
  const info: ContenderInfo[] = [];
  const add = (c: Contender, i: Omit<ContenderInfo, 'key' | 'label' | 'comm'>) => {
    contenders.set(c.key, c);
    info.push({ key: c.key, label: contenderLabel(c.key), ...(c.comm ? { comm: c.comm } : {}), ...i });
    if (c.child) log(`${contenderLabel(c.key)}: pid ${c.child.pid} (${c.comm ?? '?'}) on ${c.ports.join(',')}`);
  };
  add(
    redisDirect(
      masterPort,
      cluster.nodes.map((x) => x.port),
    ),
    { kind: 'redis' },
  );
  add(track(await startReferencePipe(cluster.seeds[0]!, n)), { kind: 'reference' });
  add(track(await startSlotrelay(cluster.seeds, n, [], REPO, false, { ...opts.slotrelay, key: 'C' })), {
    kind: 'slotrelay',
    multiplex: opts.slotrelay.multiplex ?? null,
  });
  if (opts.aa)
    add(track(await startSlotrelay(cluster.seeds, n, [], REPO, false, { ...opts.slotrelayOther, key: "C'" })), {
      kind: 'slotrelay',
      multiplex: opts.slotrelayOther.multiplex ?? null,
    });
  for (const p of opts.peers) {
    const c = track(await startPeer(p, masters));
    add(c, {
      kind: 'peer',
      command: p.command.replaceAll('{port}', String(c.port)).replaceAll('{seeds}', masters.join(',')),
    });
  }
  const keys = [...contenders.keys()];
  const proxyKeys = keys.filter((k) => k !== 'A');

  const discovery: Record<ContenderKey, Awaited<ReturnType<typeof checkDiscovery>>> = {};
  for (const k of proxyKeys) {
    const c = contenders.get(k)!;
    if (!c.cluster) continue; // a peer is one endpoint: clients are never told node addresses
    const d = (discovery[k] = await checkDiscovery(c.port, c.ports));
    log(`${contenderLabel(k)} discovery: NODES → ${d.nodes}; SLOTS → ${d.slots}; MOVED → ${d.moved}`);
  }
  if (discovery.C && !discovery.C.ok) {
    notes.push(
      clusterCmdsIsPlaceholder()
        ? 'C: @slotrelay/middleware-cluster-cmds is still a placeholder, so CLUSTER NODES through slotrelay names Redis and redis-benchmark bypasses slotrelay: C figures are not a measurement of slotrelay yet.'
        : 'C: slotrelay did not rewrite every address a client learns (see discovery above); C figures marked ⚠ bypassed slotrelay.',
    );
  }
  // Warm-up (JIT, topology discovery, the peer's first connections), not measured.
  for (const k of proxyKeys) {
    const c = contenders.get(k)!;
    try {
      await runRedisBenchmark(
        HOST,
        c.port,
        { name: 'warmup', clients: 50, pipeline: 16, requests: opts.quick ? 5_000 : 50_000 },
        'set,get',
        60_000,
        driveOf(c, masters.length),
      );
    } catch (e) {
      log(`warm-up ${contenderLabel(k)}: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  // Redis node ports in `nodes` order (the report's column order).
  const redisPorts = nodes.map((x) => x.port);
  const runs: RunRecord[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    // Rotate the order each round so no contender always runs right after the same one.
    const shift = (round - 1) % keys.length;
    const order = [...keys.slice(shift), ...keys.slice(0, shift)];
    for (const shape of shapes) {
      for (const k of order) {
        const rec = await benchRun(contenders.get(k)!, shape, round, redisPorts, masters.length);
        runs.push(rec);
        log(`round ${round}/${opts.rounds} ${shapeLabel(shape)} -n ${shape.requests} ${k}: ${describeRun(rec)}`);
      }
    }
  }
  const peak = (k: ContenderKey) => {
    const c = contenders.get(k)!;
    return c.child && alive(c) ? memory(c.child.pid).hwm : null;
  };
  const perShape = summarize(runs, shapes, keys);
  const summary: Results['summary'] = {};
  for (const k of keys) summary[k] = { shapes: perShape[k]!, peakRssBytes: peak(k), discovery: discovery[k] ?? null };
  for (const k of proxyKeys) await release(contenders.get(k)!);

  const memoryResults: Results['memory'] = {};
  if (!opts.skipMemory) {
    const memKeys = await keysForListeners(nodes);
    const seconds = opts.quick ? 1 : 4;
    memoryResults.B = await memoryTest('B', cluster, memKeys, opts.sessions, seconds, {});
    memoryResults.C = await memoryTest('C', cluster, memKeys, opts.sessions, seconds, opts.slotrelay);
    if (opts.aa)
      memoryResults["C'"] = await memoryTest("C'", cluster, memKeys, opts.sessions, seconds, opts.slotrelayOther);
  }
  return {
    kind: 'bench',
    startedAt: opts.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: opts.quick,
    rounds: opts.rounds,
    scale: opts.scale,
    machine: machineInfo(),
    shapes,
    cluster: nodes.map((x) => ({ id: x.id, port: x.port, role: x.role })),
    contenders: info,
    runs,
    summary,
    ratios: ratios(summary, shapes),
    aa: opts.aa ? aaSpread(runs, shapes) : null,
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
          `⚠ ${contenderLabel(key)} discovery: NODES → ${d.nodes}; SLOTS → ${d.slots}; MOVED → ${d.moved} — the profile will miss the data path`,
        );
      const run = await benchRun(c, shape, 1);
      log(`profile ${contenderLabel(key)} ${shapeLabel(shape)} -n ${shape.requests}: ${describeRun(run)}`);
      await release(c);
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) throw new Error(`no profile written at ${file}`);
      const profile = summarizeProfile(file, REPO);
      out.push({ contender: key, shape, run, profile });
      process.stdout.write(
        `\n### ${contenderLabel(key)} CPU profile, ${shapeLabel(shape)} -n ${shape.requests.toLocaleString('en-US')}: top ${profile.top.length} self time\n\n${profileTable(profile)}\n`,
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
      scale: { type: 'string' },
      peer: { type: 'string', multiple: true },
      aa: { type: 'boolean', default: false },
      multiplex: { type: 'string' },
      'multiplex-other': { type: 'string' },
      'upstream-pool': { type: 'string' },
      shapes: { type: 'string' },
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
  const scale = values.scale ? Number(values.scale) : 1;
  const onOff = (v: string | undefined): boolean | undefined | 'bad' =>
    v === undefined ? undefined : v === 'on' ? true : v === 'off' ? false : 'bad';
  const multiplex = onOff(values.multiplex);
  const multiplexOther = values['multiplex-other'] === undefined ? multiplex : onOff(values['multiplex-other']);
  const pool = values['upstream-pool'] ? Number(values['upstream-pool']) : undefined;
  const only = values.shapes ? values.shapes.split(',') : null;
  let peers: PeerSpec[];
  try {
    peers = (values.peer ?? []).map(parsePeer);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (
    !Number.isInteger(rounds) ||
    rounds < 1 ||
    !Number.isInteger(sessions) ||
    sessions < 1 ||
    !(scale > 0) ||
    multiplex === 'bad' ||
    multiplexOther === 'bad' ||
    (pool !== undefined && !(Number.isInteger(pool) && pool >= 1 && pool <= 64)) ||
    (only !== null && only.some((name) => !FULL_SHAPES.some((x) => x.name === name))) ||
    new Set(peers.map((p) => p.name)).size !== peers.length
  ) {
    process.stderr.write(USAGE);
    process.exitCode = 2;
    return;
  }
  const slotrelayOpts = (mux: boolean | undefined): SlotrelayOptions => ({
    ...(mux === undefined ? {} : { multiplex: mux }),
    ...(pool === undefined ? {} : { upstreamPoolSize: pool }),
  });
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
        scale,
        sessions,
        skipMemory: values['skip-memory']!,
        startedAt,
        peers,
        aa: values.aa!,
        only,
        slotrelay: slotrelayOpts(multiplex),
        slotrelayOther: slotrelayOpts(multiplexOther),
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
