import { scenarios } from './scenarios/index.js';
import type { ScenarioResult } from './types.js';

/** Run the chosen scenarios one at a time (they share the machine's two cores), timing each. */
export async function runScenarios(opts: { quick: boolean; only?: string[] }): Promise<ScenarioResult[]> {
  const chosen = opts.only?.length ? scenarios.filter((s) => opts.only!.includes(s.name)) : scenarios;
  const unknown = (opts.only ?? []).filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  const results: ScenarioResult[] = [];
  for (const s of chosen) {
    const log = (line: string) => process.stderr.write(`[chaos ${s.name}] ${line}\n`);
    const t0 = performance.now();
    log(`start${opts.quick ? ' (quick)' : ''}`);
    let r: ScenarioResult;
    try {
      const o = await s.run({ quick: opts.quick, log });
      const pass = o.skipped !== undefined || o.checks.every((c) => c.pass);
      r = { name: s.name, title: s.title, seconds: secs(t0), pass, ...o };
    } catch (e) {
      r = {
        name: s.name,
        title: s.title,
        seconds: secs(t0),
        pass: false,
        figures: {},
        checks: [],
        error: e instanceof Error ? (e.stack ?? e.message) : String(e),
      };
    }
    log(`${r.skipped ? `skipped: ${r.skipped}` : r.pass ? 'pass' : 'FAIL'} in ${r.seconds} s`);
    for (const c of r.checks) log(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
    if (r.error) log(`  error: ${r.error}`);
    results.push(r);
  }
  return results;
}

function secs(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}
