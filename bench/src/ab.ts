#!/usr/bin/env node
/**
 * A/B of two slotrelay builds (`npm run bench:ab -- --other <checkout>`): this checkout's build and
 * another one (e.g. `git worktree add /tmp/base main && (cd /tmp/base && npm ci && npm run build)`)
 * front the same local cluster side by side with the reference pipe; rounds alternate the order of
 * the three, and each run reports the proxy's CPU-seconds per million requests. On a shared machine
 * this is how a change to the data path is judged: by the medians of one run, never across runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster } from '@slotrelay/local-cluster';
import { type Contender, HOST, startReferencePipe, startSlotrelay } from './contenders.js';
import { cpuSeconds } from './proc.js';
import { runRedisBenchmark } from './redis-benchmark.js';

const USAGE = `usage: node bench/dist/ab.js --other <checkout> [--pipeline 16] [--clients 50] [--requests N] [--rounds 6]
  [--metrics on|off] [--other-metrics on|off]   the /metrics endpoint of this build / the other one (default off);
  metrics cost: --other . --metrics on --other-metrics off, and its A/A control: --other . (both off)
  [--multiplex on|off] [--other-multiplex on|off]   multiplex: true|false on every connection of this build's /
  the other one's config (default: the key left out, each build's own default); sharing's cost: --other . --multiplex on --other-multiplex off`;

const { values } = parseArgs({
  options: {
    other: { type: 'string' },
    pipeline: { type: 'string', default: '16' },
    clients: { type: 'string', default: '50' },
    requests: { type: 'string' },
    rounds: { type: 'string', default: '6' },
    metrics: { type: 'string', default: 'off' },
    'other-metrics': { type: 'string', default: 'off' },
    multiplex: { type: 'string' },
    'other-multiplex': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.other) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
const onOff = (v: string | undefined): boolean | undefined | 'bad' =>
  v === undefined ? undefined : v === 'on' ? true : v === 'off' ? false : 'bad';
const multiplex = onOff(values.multiplex);
const otherMultiplex = onOff(values['other-multiplex']);
if (multiplex === 'bad' || otherMultiplex === 'bad') {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const muxLabel = (m: boolean | undefined) => (m === undefined ? '' : `, multiplex ${m ? 'on' : 'off'}`);
const other = path.resolve(values.other);
if (!fs.existsSync(path.join(other, 'packages', 'host', 'dist', 'cli.js'))) {
  process.stderr.write(
    `ab: ${other} has no built slotrelay (packages/host/dist/cli.js); run npm ci and npm run build there\n`,
  );
  process.exit(2);
}
const pipeline = Number(values.pipeline);
const shape = {
  name: 'ab',
  clients: Number(values.clients),
  pipeline,
  requests: Number(values.requests ?? (pipeline > 1 ? 1_500_000 : 200_000)),
};
const rounds = Number(values.rounds);
const metricsOn = values.metrics === 'on';
const otherMetricsOn = values['other-metrics'] === 'on';

const cluster = await startCluster();
const started: Contender[] = [];
try {
  const contenders: Array<[string, Contender]> = [
    ['B reference pipe', await startReferencePipe(cluster.seeds[0]!, cluster.nodes.length)],
    [
      `this build${metricsOn ? ', metrics on' : ''}${muxLabel(multiplex)}`,
      await startSlotrelay(cluster.seeds, cluster.nodes.length, [], undefined, metricsOn, {
        ...(multiplex === undefined ? {} : { multiplex }),
      }),
    ],
    [
      `other (${other})${otherMetricsOn ? ', metrics on' : ''}${muxLabel(otherMultiplex)}`,
      await startSlotrelay(cluster.seeds, cluster.nodes.length, [], other, otherMetricsOn, {
        key: "C'",
        ...(otherMultiplex === undefined ? {} : { multiplex: otherMultiplex }),
      }),
    ],
  ];
  started.push(...contenders.map(([, c]) => c));
  const warm = { ...shape, pipeline: 16, requests: 200_000 };
  for (const [, c] of contenders) await runRedisBenchmark(HOST, c.port, warm);
  const cpu = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, c] of r % 2 === 0 ? contenders : [...contenders].reverse()) {
      const before = cpuSeconds(c.child!.pid);
      const run = await runRedisBenchmark(HOST, c.port, shape);
      const perMillion = (cpuSeconds(c.child!.pid) - before) / ((2 * shape.requests) / 1e6);
      // One scrape per round, as Prometheus would (after the measure: its own cost is not the question).
      if (c.metricsPort !== undefined) await fetch(`http://${HOST}:${c.metricsPort}/metrics`).then((r) => r.text());
      cpu.get(name)!.push(perMillion);
      const ops = Object.entries(run.tests)
        .map(([t, v]) => `${t} ${Math.round(v.rps).toLocaleString('en-US')}/s`)
        .join(', ');
      process.stderr.write(`round ${r + 1}/${rounds} ${name}: ${ops}, ${perMillion.toFixed(3)} CPU-s per million\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const ref = median(cpu.get('B reference pipe')!);
  process.stdout.write(
    `\n-c ${shape.clients} -P ${shape.pipeline} -n ${shape.requests}, ${rounds} rounds: median CPU-seconds per million requests\n\n`,
  );
  for (const [name, xs] of cpu)
    process.stdout.write(
      `  ${median(xs).toFixed(3)}  (${(median(xs) / ref).toFixed(3)} × the reference pipe)  ${name}\n`,
    );
} finally {
  for (const c of started) await c.stop();
  await cluster.stop();
}
