/**
 * Turns the individual runs into medians and ratios, and those into a markdown report.
 */
import type { ContenderKey } from './contenders.js';
import type { MachineInfo } from './proc.js';
import type { LoadShape, TestResult } from './redis-benchmark.js';
import type { SessionMemory } from './sessions-memory.js';
import type { DiscoveryCheck } from './discovery-check.js';

export const TESTS = ['SET', 'GET'] as const;

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
  /**
   * Loads with `redisConnections`: per Redis node (in `Results.cluster` order), the highest
   * connected_clients sampled during the run minus the baseline just before it.
   */
  redisConnections?: number[] | null;
  /** The same loads: per node, the most established connections the proxy process itself held. */
  heldConnections?: number[] | null;
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
  /** Median over rounds of RunRecord.redisConnections, per node. */
  redisConnections: number[] | null;
  /** Median over rounds of RunRecord.heldConnections, per node. */
  heldConnections: number[] | null;
}

export interface ContenderSummary {
  shapes: Record<string, ShapeSummary>;
  /** VmHWM of the proxy process at the end of the rounds. */
  peakRssBytes: number | null;
  discovery: DiscoveryCheck | null;
}

/** One contender as the report names it. */
export interface ContenderInfo {
  key: ContenderKey;
  label: string;
  kind: 'redis' | 'reference' | 'slotrelay' | 'peer';
  /** /proc/<pid>/comm of the measured process (a peer's wrapper must exec the proxy). */
  comm?: string;
  /** slotrelay: the `multiplex` key written into its config; null = left out (product default). */
  multiplex?: boolean | null;
  /** peer: the command line after placeholder substitution. */
  command?: string;
}

export interface Ratios {
  /** contender → shape → test → its median ops/s ÷ A's. */
  opsOverA: Record<ContenderKey, Record<string, Record<string, number | null>>>;
  /** contender → shape → test → its median ops/s ÷ B's. */
  opsOverB: Record<ContenderKey, Record<string, Record<string, number | null>>>;
  /** contender → shape → its median CPU per request ÷ B's. */
  cpuOverB: Record<ContenderKey, Record<string, number | null>>;
}

/** The A/A pair (--aa): C and C' are the same build in two processes; their spread is the noise. */
export interface AaSpread {
  /** shape → test → C' ÷ C of the median ops/s, and the lowest/highest per-round C' ÷ C. */
  ops: Record<string, Record<string, { median: number | null; min: number | null; max: number | null }>>;
  /** shape → C' ÷ C of the median CPU per request, and per-round lowest/highest. */
  cpu: Record<string, { median: number | null; min: number | null; max: number | null }>;
}

export interface Results {
  kind: 'bench';
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  rounds: number;
  /** Multiplier applied to every -n (--scale). */
  scale: number;
  machine: MachineInfo;
  shapes: LoadShape[];
  cluster: Array<{ id: string; port: number; role: string }>;
  contenders: ContenderInfo[];
  runs: RunRecord[];
  summary: Record<ContenderKey, ContenderSummary>;
  ratios: Ratios;
  aa: AaSpread | null;
  memory: Record<ContenderKey, SessionMemory | { error: string }>;
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
  keys: readonly ContenderKey[],
): Record<ContenderKey, Record<string, ShapeSummary>> {
  const out: Record<ContenderKey, Record<string, ShapeSummary>> = {};
  for (const k of keys) {
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
      const perNode = (f: (r: RunRecord) => number[] | null | undefined) => {
        const xs = ok.map(f).filter((x): x is number[] => !!x);
        return xs.length ? xs[0]!.map((_, j) => median(xs.map((c) => c[j]!))!) : null;
      };
      out[k][shape.name] = {
        runs: ok.length,
        throughContender: ok.length > 0 && ok.every((r) => r.throughContender),
        tests,
        cpuSecondsPerMillion: med((r) => r.cpuSecondsPerMillion),
        readsPerThousand: med((r) => r.readsPerThousand),
        writesPerThousand: med((r) => r.writesPerThousand),
        redisConnections: perNode((r) => r.redisConnections),
        heldConnections: perNode((r) => r.heldConnections),
      };
    }
  }
  return out;
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a != null && b != null && b > 0 ? Math.round((a / b) * 1000) / 1000 : null;

export function ratios(s: Record<ContenderKey, ContenderSummary>, shapes: readonly LoadShape[]): Ratios {
  const r: Ratios = { opsOverA: {}, opsOverB: {}, cpuOverB: {} };
  for (const k of Object.keys(s)) {
    r.opsOverA[k] = {};
    r.opsOverB[k] = {};
    r.cpuOverB[k] = {};
    for (const shape of shapes) {
      const x = s[k]!.shapes[shape.name];
      const a = s.A?.shapes[shape.name];
      const b = s.B?.shapes[shape.name];
      r.opsOverA[k][shape.name] = {};
      r.opsOverB[k][shape.name] = {};
      for (const t of TESTS) {
        r.opsOverA[k][shape.name]![t] = ratio(x?.tests[t]?.rps, a?.tests[t]?.rps);
        r.opsOverB[k][shape.name]![t] = ratio(x?.tests[t]?.rps, b?.tests[t]?.rps);
      }
      r.cpuOverB[k][shape.name] = ratio(x?.cpuSecondsPerMillion, b?.cpuSecondsPerMillion);
    }
  }
  return r;
}

/** C' ÷ C per load: of the medians, and the lowest and highest of the per-round quotients. */
export function aaSpread(runs: readonly RunRecord[], shapes: readonly LoadShape[]): AaSpread {
  const out: AaSpread = { ops: {}, cpu: {} };
  const range = (pairs: Array<[number | null | undefined, number | null | undefined]>) => {
    const qs = pairs.map(([c2, c]) => ratio(c2, c)).filter((x): x is number => x !== null);
    const med = (i: 0 | 1) => median(pairs.map((p) => p[i]).filter((x): x is number => x != null));
    return {
      median: ratio(med(0), med(1)),
      min: qs.length ? Math.min(...qs) : null,
      max: qs.length ? Math.max(...qs) : null,
    };
  };
  for (const shape of shapes) {
    const rounds = [...new Set(runs.map((r) => r.round))];
    const pair = (round: number) => {
      const of = (k: string) => runs.find((r) => r.round === round && r.contender === k && r.shape === shape.name);
      const c = of('C');
      const c2 = of("C'");
      return c && c2 && !c.error && !c2.error ? ([c2, c] as const) : null;
    };
    const pairs = rounds.map(pair).filter((p) => p !== null);
    out.ops[shape.name] = {};
    for (const t of TESTS) out.ops[shape.name]![t] = range(pairs.map(([c2, c]) => [c2.tests[t]?.rps, c.tests[t]?.rps]));
    out.cpu[shape.name] = range(pairs.map(([c2, c]) => [c2.cpuSecondsPerMillion, c.cpuSecondsPerMillion]));
  }
  return out;
}

const int = (x: number | null | undefined) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const fix = (x: number | null | undefined, d: number) => (x == null ? '–' : x.toFixed(d));
const mb = (x: number | null | undefined) => (x == null ? '–' : `${(x / 2 ** 20).toFixed(1)} MB`);
const kb = (x: number | null | undefined) => (x == null ? '–' : `${(x / 1024).toFixed(1)} KB`);

/** `<contender> <load> <test>` whose median duration (requests / ops/s) is under 2 s. */
function shortRuns(res: Results): string[] {
  const out: string[] = [];
  for (const { key: k } of res.contenders) {
    for (const shape of res.shapes) {
      for (const t of TESTS) {
        const rps = res.summary[k]?.shapes[shape.name]?.tests[t]?.rps;
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

/** Short column heading of a contender. */
function head(c: ContenderInfo): string {
  switch (c.kind) {
    case 'redis':
      return 'A redis';
    case 'reference':
      return 'B ref pipe';
    case 'slotrelay':
      return `${c.key} slotrelay${c.multiplex == null ? '' : c.multiplex ? ' (mux on)' : ' (mux off)'}`;
    case 'peer':
      return `${c.key} (peer)`;
  }
}

const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
const rule = (left: number, right: number) => row([...Array(left).fill('---'), ...Array(right).fill('---:')]);

export function markdown(res: Results): string {
  const m = res.machine;
  const s = res.summary;
  const all = res.contenders;
  const proxies = all.filter((c) => c.kind !== 'redis');
  const hasB = all.some((c) => c.key === 'B');
  const flag = (k: ContenderKey, shape: string) =>
    s[k]?.shapes[shape]?.runs && !s[k]!.shapes[shape]!.throughContender ? ' ⚠' : '';
  const out: string[] = [];
  out.push(`## slotrelay bench ${res.startedAt}${res.quick ? ' (QUICK smoke run: numbers mean nothing)' : ''}`);
  out.push('');
  out.push(
    `${m.cpuModel}, ${m.cores} cores, ${m.memTotalMB} MB; node ${m.node}; ${m.redisServer.replace(/ sha=.*/, '')}; ${m.redisBenchmark}; load average at start ${m.loadAverage.join(' ')}.`,
  );
  out.push(
    `${res.rounds} round(s), contenders interleaved ${all.map((c) => c.key).join(',')} in each (the order rotates by one each round); ` +
      '`redis-benchmark --cluster --csv -t set,get` (a peer: `redis-benchmark -r 100000 --threads <masters> --csv -t set,get` on its one port: the same client threads as --cluster), ' +
      res.shapes.map((x) => `${shapeLabel(x)} -n ${x.requests.toLocaleString('en-US')}`).join(', ') +
      `${res.scale !== 1 ? ` (--scale ${res.scale})` : ''}. Medians over rounds.`,
  );
  out.push('');
  out.push('Contenders:');
  out.push('');
  for (const c of all) {
    const extra =
      c.kind === 'slotrelay'
        ? `; config multiplex: ${c.multiplex == null ? 'left out (product default)' : String(c.multiplex)}`
        : c.kind === 'peer'
          ? `; \`${c.command ?? '?'}\``
          : '';
    out.push(`- ${c.label}${c.comm ? ` (measured process: ${c.comm})` : ''}${extra}`);
  }
  out.push('');
  const others = all.filter((c) => c.key !== 'A');
  out.push('### Throughput, ops/s');
  out.push('');
  out.push(row(['load', 'test', ...all.map(head), ...others.map((c) => `${c.key}/A`), ...(hasB ? ['C/B'] : [])]));
  out.push(rule(2, all.length + others.length + (hasB ? 1 : 0)));
  for (const shape of res.shapes) {
    for (const t of TESTS) {
      out.push(
        row([
          shapeLabel(shape),
          t,
          ...all.map((c) => `${int(s[c.key]?.shapes[shape.name]?.tests[t]?.rps)}${flag(c.key, shape.name)}`),
          ...others.map((c) => fix(res.ratios.opsOverA[c.key]?.[shape.name]?.[t], 2)),
          ...(hasB ? [fix(res.ratios.opsOverB.C?.[shape.name]?.[t], 2)] : []),
        ]),
      );
    }
  }
  out.push('');
  out.push('### Latency p50 / p99, ms');
  out.push('');
  out.push(row(['load', 'test', ...all.map(head)]));
  out.push(rule(2, all.length));
  for (const shape of [...res.shapes].sort((a, b) => a.clients - b.clients)) {
    for (const t of TESTS) {
      const v = (k: ContenderKey) => {
        const x = s[k]?.shapes[shape.name]?.tests[t];
        return x ? `${fix(x.p50Ms, 3)} / ${fix(x.p99Ms, 3)}${flag(k, shape.name)}` : '–';
      };
      out.push(row([shapeLabel(shape), t, ...all.map((c) => v(c.key))]));
    }
  }
  out.push('');
  out.push(
    '### Proxy CPU per request, µs (utime+stime of the proxy process ÷ requests; = CPU-seconds per million requests)',
  );
  out.push('');
  out.push(row(['load', ...proxies.map(head), ...proxies.filter((c) => c.key !== 'B').map((c) => `${c.key}/B`)]));
  out.push(rule(1, proxies.length + proxies.filter((c) => c.key !== 'B').length));
  for (const shape of res.shapes) {
    out.push(
      row([
        shapeLabel(shape),
        ...proxies.map(
          (c) => `${fix(s[c.key]?.shapes[shape.name]?.cpuSecondsPerMillion, 2)}${flag(c.key, shape.name)}`,
        ),
        ...proxies.filter((c) => c.key !== 'B').map((c) => fix(res.ratios.cpuOverB[c.key]?.[shape.name], 2)),
      ]),
    );
  }
  out.push('');
  out.push('Syscalls of the proxy per 1,000 requests, read + write (/proc/<pid>/io):');
  out.push('');
  out.push(row(['load', ...proxies.map(head)]));
  out.push(rule(1, proxies.length));
  for (const shape of res.shapes) {
    const sys = (k: ContenderKey) => {
      const x = s[k]?.shapes[shape.name];
      return x?.readsPerThousand != null && x.writesPerThousand != null
        ? `${fix(x.readsPerThousand, 0)} + ${fix(x.writesPerThousand, 0)}`
        : '–';
    };
    out.push(row([shapeLabel(shape), ...proxies.map((c) => sys(c.key))]));
  }
  out.push('');
  out.push('### Peak RSS over the runs (VmHWM of the proxy process)');
  out.push('');
  out.push(row(proxies.map(head)));
  out.push(rule(0, proxies.length));
  out.push(row(proxies.map((c) => mb(s[c.key]?.peakRssBytes))));
  for (const shape of res.shapes.filter((x) => x.redisConnections)) {
    out.push('');
    out.push(`### Redis connections per node during ${shapeLabel(shape)}`);
    out.push('');
    out.push(
      "Each cell: **opened by the load** (highest `connected_clients` of the node, sampled every 200 ms, − the count just before the run) / **held by the proxy** (highest count of the proxy process's established sockets to that node, from /proc, including connections it opened before the run). Median over rounds. M = master, R = replica.",
    );
    out.push('');
    const nodes = res.cluster;
    out.push(row(['contender', ...nodes.map((n) => `${n.port} ${n.role === 'master' ? 'M' : 'R'}`), 'total']));
    out.push(rule(1, nodes.length + 1));
    const sum = (xs: number[] | null | undefined) => (xs ? xs.reduce((a, b) => a + b, 0) : null);
    for (const c of all) {
      const x = s[c.key]?.shapes[shape.name];
      const cell = (a: number | null | undefined, b: number | null | undefined) =>
        x?.heldConnections ? `${int(a)} / ${int(b)}` : int(a);
      out.push(
        row([
          head(c),
          ...nodes.map((_, j) => cell(x?.redisConnections?.[j], x?.heldConnections?.[j])),
          cell(sum(x?.redisConnections), sum(x?.heldConnections)),
        ]),
      );
    }
  }
  if (res.aa) {
    out.push('');
    out.push(
      "### A/A: C' ÷ C (same build, two processes; the spread is the noise of this run: median, and lowest–highest of the per-round quotients)",
    );
    out.push('');
    out.push(row(['load', ...TESTS.map((t) => `ops/s ${t}`), 'CPU per request']));
    out.push(rule(1, TESTS.length + 1));
    const cell = (x: { median: number | null; min: number | null; max: number | null } | undefined) =>
      x ? `${fix(x.median, 3)} (${fix(x.min, 2)}–${fix(x.max, 2)})` : '–';
    for (const shape of res.shapes)
      out.push(
        row([
          shapeLabel(shape),
          ...TESTS.map((t) => cell(res.aa!.ops[shape.name]?.[t])),
          cell(res.aa!.cpu[shape.name]),
        ]),
      );
  }
  const memKeys = all.filter((c) => res.memory[c.key]);
  if (memKeys.length) {
    out.push('');
    out.push('### Memory and file descriptors per session (a fresh process each)');
    out.push('');
    const mem = (k: ContenderKey) => {
      const x = res.memory[k];
      return x && !('error' in x) ? x : null;
    };
    const first = memKeys.map((c) => mem(c.key)).find((x) => x);
    const n = first?.sessions ?? 0;
    out.push(row(['', ...memKeys.map(head)]));
    out.push(rule(1, memKeys.length));
    const line = (name: string, f: (x: SessionMemory) => string) =>
      out.push(
        row([
          name,
          ...memKeys.map((c) => {
            const x = mem(c.key);
            return x ? f(x) : '–';
          }),
        ]),
      );
    line('RSS of a fresh process, warmed up', (x) => mb(x.rssBefore));
    line(`RSS with ${n.toLocaleString('en-US')} idle sessions`, (x) => mb(x.rssIdle));
    line(`RSS peak, ${n.toLocaleString('en-US')} sessions × ${first?.pipelineDepth ?? '?'} GETs in flight`, (x) =>
      mb(x.rssPipeliningPeak),
    );
    line('**per session, idle**', (x) => kb(x.bytesPerSessionIdle));
    line('**per session, pipelining**', (x) => kb(x.bytesPerSessionPipelining));
    line('open fds, fresh (/proc/<pid>/fd)', (x) => int(x.fdsBefore));
    line(`open fds with ${n.toLocaleString('en-US')} idle sessions`, (x) => int(x.fdsIdle));
    line('fds per session, idle', (x) =>
      x.fdsIdle != null && x.fdsBefore != null ? fix((x.fdsIdle - x.fdsBefore) / x.sessions, 2) : '–',
    );
    line('GETs answered while pipelining (errors)', (x) => `${int(x.gets)} (${x.errors})`);
    for (const c of memKeys) {
      const x = res.memory[c.key];
      if (x && 'error' in x) out.push(`\n${c.label} memory test failed: ${x.error}`);
    }
  }
  out.push('');
  for (const c of all) {
    const d = s[c.key]?.discovery;
    if (d)
      out.push(`- ${c.label} discovery: CLUSTER NODES → ${d.nodes}; CLUSTER SLOTS → ${d.slots}; MOVED → ${d.moved}.`);
  }
  for (const note of res.notes) out.push(`- ${note}`);
  const short = shortRuns(res);
  if (res.quick)
    out.push("- --quick: every run lasts well under 2 s, so redis-benchmark's 250 ms rounding dominates its ops/s.");
  else if (short.length)
    out.push(
      `- Runs under 2 s (redis-benchmark rounds elapsed time up to 250 ms, so their ops/s may be under-reported): ${short.join(', ')}.`,
    );
  if (all.some((c) => res.shapes.some((x) => flag(c.key, x.name)))) {
    out.push(
      '- ⚠ = redis-benchmark was handed Redis addresses and talked to Redis directly: that figure does not measure the proxy.',
    );
  }
  out.push(
    '- One noisy shared machine: only the ratios within this run mean anything; compare runs only by their ratios.',
  );
  return out.join('\n');
}
