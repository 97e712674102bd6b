/**
 * Turns the individual runs into medians and ratios, and those into a markdown report.
 */
import { CONTENDER_LABEL, type ContenderKey } from './contenders.js';
import type { MachineInfo } from './proc.js';
import type { LoadShape, TestResult } from './redis-benchmark.js';
import type { SessionMemory } from './sessions-memory.js';
import type { DiscoveryCheck } from './discovery-check.js';

export const TESTS = ['SET', 'GET'] as const;
export const KEYS: readonly ContenderKey[] = ['A', 'B', 'C'];

/** One redis-benchmark invocation (both tests) against one contender. */
export interface RunRecord {
  round: number;
  contender: ContenderKey;
  shape: string;
  clients: number;
  pipeline: number;
  /** Per test (`-n`); the invocation made twice as many (SET and GET). */
  requests: number;
  tests: Record<string, TestResult>;
  /** `ip:port` of the masters redis-benchmark discovered and used. */
  masters: string[];
  /** The masters were this contender's ports (for A: Redis; for B/C: the proxy listeners). */
  throughContender: boolean;
  wallMs: number;
  /** utime+stime of the proxy process during the run. */
  proxyCpuSeconds: number | null;
  cpuSecondsPerMillion: number | null;
  /** read / write system calls of the proxy process per 1,000 requests (from /proc/<pid>/io). */
  readsPerThousand: number | null;
  writesPerThousand: number | null;
  error?: string;
}

export interface TestSummary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ShapeSummary {
  runs: number;
  throughContender: boolean;
  tests: Record<string, TestSummary>;
  cpuSecondsPerMillion: number | null;
  readsPerThousand: number | null;
  writesPerThousand: number | null;
}

export interface ContenderSummary {
  shapes: Record<string, ShapeSummary>;
  /** VmHWM of the proxy process at the end of the rounds. */
  peakRssBytes: number | null;
  discovery: DiscoveryCheck | null;
}

export interface Ratios {
  /** shape → test → ratio of median ops/s. */
  opsCoverA: Record<string, Record<string, number | null>>;
  opsCoverB: Record<string, Record<string, number | null>>;
  opsBoverA: Record<string, Record<string, number | null>>;
  /** shape → C/B of median CPU-seconds per million requests. */
  cpuCoverB: Record<string, number | null>;
}

export interface Results {
  kind: 'bench';
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  rounds: number;
  machine: MachineInfo;
  shapes: LoadShape[];
  cluster: Array<{ id: string; port: number; role: string }>;
  runs: RunRecord[];
  summary: Record<ContenderKey, ContenderSummary>;
  ratios: Ratios;
  memory: Partial<Record<'B' | 'C', SessionMemory | { error: string }>>;
  notes: string[];
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function summarize(
  runs: readonly RunRecord[],
  shapes: readonly LoadShape[],
): Record<ContenderKey, Record<string, ShapeSummary>> {
  const out = {} as Record<ContenderKey, Record<string, ShapeSummary>>;
  for (const k of KEYS) {
    out[k] = {};
    for (const shape of shapes) {
      const ok = runs.filter((r) => r.contender === k && r.shape === shape.name && !r.error);
      const tests: Record<string, TestSummary> = {};
      for (const t of TESTS) {
        const xs = ok.map((r) => r.tests[t]).filter((x): x is TestResult => !!x);
        if (xs.length === 0) continue;
        tests[t] = {
          rps: median(xs.map((x) => x.rps))!,
          p50Ms: median(xs.map((x) => x.p50Ms))!,
          p99Ms: median(xs.map((x) => x.p99Ms))!,
        };
      }
      const med = (f: (r: RunRecord) => number | null) => median(ok.map(f).filter((x): x is number => x !== null));
      out[k][shape.name] = {
        runs: ok.length,
        throughContender: ok.length > 0 && ok.every((r) => r.throughContender),
        tests,
        cpuSecondsPerMillion: med((r) => r.cpuSecondsPerMillion),
        readsPerThousand: med((r) => r.readsPerThousand),
        writesPerThousand: med((r) => r.writesPerThousand),
      };
    }
  }
  return out;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a != null && b != null && b > 0 ? Math.round((a / b) * 1000) / 1000 : null;

export function ratios(s: Record<ContenderKey, ContenderSummary>, shapes: readonly LoadShape[]): Ratios {
  const r: Ratios = { opsCoverA: {}, opsCoverB: {}, opsBoverA: {}, cpuCoverB: {} };
  for (const shape of shapes) {
    const [a, b, c] = KEYS.map((k) => s[k].shapes[shape.name]);
    r.opsCoverA[shape.name] = {};
    r.opsCoverB[shape.name] = {};
    r.opsBoverA[shape.name] = {};
    for (const t of TESTS) {
      r.opsCoverA[shape.name]![t] = ratio(c?.tests[t]?.rps, a?.tests[t]?.rps);
      r.opsCoverB[shape.name]![t] = ratio(c?.tests[t]?.rps, b?.tests[t]?.rps);
      r.opsBoverA[shape.name]![t] = ratio(b?.tests[t]?.rps, a?.tests[t]?.rps);
    }
    r.cpuCoverB[shape.name] = ratio(c?.cpuSecondsPerMillion, b?.cpuSecondsPerMillion);
  }
  return r;
}

const int = (x: number | null | undefined) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const fix = (x: number | null | undefined, d: number) => (x == null ? '–' : x.toFixed(d));
const mb = (x: number | null | undefined) => (x == null ? '–' : `${(x / 2 ** 20).toFixed(1)} MB`);
const kb = (x: number | null | undefined) => (x == null ? '–' : `${(x / 1024).toFixed(1)} KB`);

/** `<contender> <load> <test>` whose median duration (requests / ops/s) is under 2 s. */
function shortRuns(res: Results): string[] {
  const out: string[] = [];
  for (const k of KEYS) {
    for (const shape of res.shapes) {
      for (const t of TESTS) {
        const rps = res.summary[k].shapes[shape.name]?.tests[t]?.rps;
        if (rps && shape.requests / rps < 2)
          out.push(`${k} ${shapeLabel(shape)} ${t} (${(shape.requests / rps).toFixed(2)} s)`);
      }
    }
  }
  return out;
}

export function shapeLabel(s: LoadShape): string {
  return `-c ${s.clients} -P ${s.pipeline}`;
}

export function markdown(res: Results): string {
  const m = res.machine;
  const s = res.summary;
  const flag = (k: ContenderKey, shape: string) =>
    s[k].shapes[shape]?.runs && !s[k].shapes[shape]!.throughContender ? ' ⚠' : '';
  const out: string[] = [];
  out.push(`## slotrelay bench ${res.startedAt}${res.quick ? ' (QUICK smoke run: numbers mean nothing)' : ''}`);
  out.push('');
  out.push(
    `${m.cpuModel}, ${m.cores} cores, ${m.memTotalMB} MB; node ${m.node}; ${m.redisServer.replace(/ sha=.*/, '')}; ${m.redisBenchmark}; load average at start ${m.loadAverage.join(' ')}.`,
  );
  out.push(
    `${res.rounds} round(s), contenders interleaved A,B,C in each; \`redis-benchmark --cluster -t set,get\`, ` +
      res.shapes.map((x) => `${shapeLabel(x)} -n ${x.requests.toLocaleString('en-US')}`).join(', ') +
      '. Medians over rounds.',
  );
  out.push('');
  out.push('### Throughput, ops/s');
  out.push('');
  out.push('| load | test | A redis | B ref pipe | C slotrelay | C/A | C/B | B/A |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const shape of res.shapes) {
    for (const t of TESTS) {
      const v = (k: ContenderKey) => `${int(s[k].shapes[shape.name]?.tests[t]?.rps)}${flag(k, shape.name)}`;
      out.push(
        `| ${shapeLabel(shape)} | ${t} | ${v('A')} | ${v('B')} | ${v('C')} | ${fix(res.ratios.opsCoverA[shape.name]?.[t], 2)} | ${fix(res.ratios.opsCoverB[shape.name]?.[t], 2)} | ${fix(res.ratios.opsBoverA[shape.name]?.[t], 2)} |`,
      );
    }
  }
  out.push('');
  out.push('### Latency p50 / p99, ms');
  out.push('');
  out.push('| load | test | A redis | B ref pipe | C slotrelay |');
  out.push('|---|---|---:|---:|---:|');
  for (const shape of [...res.shapes].sort((a, b) => a.clients - b.clients)) {
    for (const t of TESTS) {
      const v = (k: ContenderKey) => {
        const x = s[k].shapes[shape.name]?.tests[t];
        return x ? `${fix(x.p50Ms, 3)} / ${fix(x.p99Ms, 3)}${flag(k, shape.name)}` : '–';
      };
      out.push(`| ${shapeLabel(shape)} | ${t} | ${v('A')} | ${v('B')} | ${v('C')} |`);
    }
  }
  out.push('');
  out.push('### Proxy CPU, CPU-seconds per million requests (utime+stime of the proxy process)');
  out.push('');
  out.push('| load | B ref pipe | C slotrelay | C/B | syscalls per 1k requests, read + write: B | C |');
  out.push('|---|---:|---:|---:|---:|---:|');
  for (const shape of res.shapes) {
    const sys = (k: 'B' | 'C') => {
      const x = s[k].shapes[shape.name];
      return x?.readsPerThousand != null && x.writesPerThousand != null
        ? `${fix(x.readsPerThousand, 0)} + ${fix(x.writesPerThousand, 0)}`
        : '–';
    };
    out.push(
      `| ${shapeLabel(shape)} | ${fix(s.B.shapes[shape.name]?.cpuSecondsPerMillion, 2)}${flag('B', shape.name)} | ${fix(s.C.shapes[shape.name]?.cpuSecondsPerMillion, 2)}${flag('C', shape.name)} | ${fix(res.ratios.cpuCoverB[shape.name], 2)} | ${sys('B')} | ${sys('C')} |`,
    );
  }
  out.push('');
  out.push('### Proxy memory');
  out.push('');
  const mem = (k: 'B' | 'C') => {
    const x = res.memory[k];
    return x && !('error' in x) ? x : null;
  };
  const [mB, mC] = [mem('B'), mem('C')];
  const n = mC?.sessions ?? mB?.sessions ?? 0;
  out.push('| | B ref pipe | C slotrelay | C/B |');
  out.push('|---|---:|---:|---:|');
  out.push(
    `| peak RSS over the runs (VmHWM) | ${mb(s.B.peakRssBytes)} | ${mb(s.C.peakRssBytes)} | ${fix(ratio(s.C.peakRssBytes, s.B.peakRssBytes), 2)} |`,
  );
  out.push(
    `| RSS of a fresh process, warmed up | ${mb(mB?.rssBefore)} | ${mb(mC?.rssBefore)} | ${fix(ratio(mC?.rssBefore, mB?.rssBefore), 2)} |`,
  );
  out.push(
    `| RSS with ${n} idle sessions | ${mb(mB?.rssIdle)} | ${mb(mC?.rssIdle)} | ${fix(ratio(mC?.rssIdle, mB?.rssIdle), 2)} |`,
  );
  out.push(
    `| RSS peak, ${n} sessions × ${mC?.pipelineDepth ?? mB?.pipelineDepth ?? '?'} GETs in flight | ${mb(mB?.rssPipeliningPeak)} | ${mb(mC?.rssPipeliningPeak)} | ${fix(ratio(mC?.rssPipeliningPeak, mB?.rssPipeliningPeak), 2)} |`,
  );
  out.push(
    `| **per session, idle** | ${kb(mB?.bytesPerSessionIdle)} | ${kb(mC?.bytesPerSessionIdle)} | ${fix(ratio(mC?.bytesPerSessionIdle, mB?.bytesPerSessionIdle), 2)} |`,
  );
  out.push(
    `| **per session, pipelining** | ${kb(mB?.bytesPerSessionPipelining)} | ${kb(mC?.bytesPerSessionPipelining)} | ${fix(ratio(mC?.bytesPerSessionPipelining, mB?.bytesPerSessionPipelining), 2)} |`,
  );
  out.push(
    `| GETs answered while pipelining (errors) | ${int(mB?.gets)} (${mB?.errors ?? '–'}) | ${int(mC?.gets)} (${mC?.errors ?? '–'}) | |`,
  );
  for (const k of ['B', 'C'] as const) {
    const x = res.memory[k];
    if (x && 'error' in x) out.push(`\n${CONTENDER_LABEL[k]} memory test failed: ${x.error}`);
  }
  out.push('');
  for (const k of ['B', 'C'] as const) {
    const d = s[k].discovery;
    if (d)
      out.push(
        `- ${CONTENDER_LABEL[k]} discovery: CLUSTER NODES → ${d.nodes}; CLUSTER SLOTS → ${d.slots}; MOVED → ${d.moved}.`,
      );
  }
  for (const note of res.notes) out.push(`- ${note}`);
  const short = shortRuns(res);
  if (res.quick)
    out.push("- --quick: every run lasts well under 2 s, so redis-benchmark's 250 ms rounding dominates its ops/s.");
  else if (short.length)
    out.push(
      `- Runs under 2 s (redis-benchmark rounds elapsed time up to 250 ms, so their ops/s may be under-reported): ${short.join(', ')}.`,
    );
  if (KEYS.some((k) => res.shapes.some((x) => flag(k, x.name)))) {
    out.push(
      '- ⚠ = redis-benchmark was handed Redis addresses and talked to Redis directly: that figure does not measure the proxy.',
    );
  }
  out.push(
    '- One noisy shared machine: only the ratios within this run mean anything; compare runs only by their ratios.',
  );
  return out.join('\n');
}
