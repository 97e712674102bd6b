/**
 * Self time per function from a V8 `.cpuprofile` (what `node --cpu-prof` writes): `nodes[]` with
 * `callFrame`, `samples[]` (node IDs) and `timeDeltas[]` (µs since the previous sample).
 */
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  functionName: string;
  /** `path:line` (1-based, of the compiled JS), relative to `root` when inside it. */
  location: string;
  selfMs: number;
  /** Share of all busy samples (everything but `(idle)`), in percent. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  top: SelfTime[];
}

export function summarizeProfile(file: string, root: string, topN = 25): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const frameOf = new Map<number, CallFrame>(p.nodes.map((n) => [n.id, n.callFrame]));
  // Sample i lasts until sample i+1: its duration is timeDeltas[i + 1] (the last one runs to endTime).
  let t = p.startTime;
  const stamps = p.timeDeltas.map((d) => (t += d));
  const self = new Map<string, { frame: CallFrame; us: number }>();
  let idle = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const us = i + 1 < stamps.length ? stamps[i + 1]! - stamps[i]! : Math.max(0, p.endTime - stamps[i]!);
    const frame = frameOf.get(p.samples[i]!);
    if (!frame) continue;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}|${frame.columnNumber}`;
    const e = self.get(key);
    if (e) e.us += us;
    else self.set(key, { frame, us });
  }
  const busy = total - idle;
  const prefix = `file://${root.endsWith('/') ? root : `${root}/`}`;
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map(({ frame, us }) => ({
      functionName: frame.functionName || '(anonymous)',
      location: frame.url
        ? `${frame.url.startsWith(prefix) ? frame.url.slice(prefix.length) : frame.url}:${frame.lineNumber + 1}`
        : '',
      selfMs: Math.round(us / 100) / 10,
      percent: busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0,
    }));
  return {
    file,
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    busyMs: Math.round(busy / 1000),
    top,
  };
}

export function profileTable(s: ProfileSummary): string {
  const lines = [
    `busy ${s.busyMs} ms of ${s.totalMs} ms sampled (idle ${s.idleMs} ms) — ${s.file}`,
    '',
    '| # | self ms | % busy | function | location |',
    '|---:|---:|---:|---|---|',
    ...s.top.map((f, i) => `| ${i + 1} | ${f.selfMs} | ${f.percent} | \`${f.functionName}\` | ${f.location} |`),
  ];
  return lines.join('\n');
}
