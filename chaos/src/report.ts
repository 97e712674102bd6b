import type { ScenarioResult } from './types.js';

/** The results as markdown: one summary table, then each scenario's figures and checks. */
export function toMarkdown(report: { date: string; quick: boolean; node: string; results: ScenarioResult[] }): string {
  const out: string[] = [];
  out.push(`# chaos run ${report.date}${report.quick ? ' (quick)' : ''}`, '', `Node ${report.node}.`, '');
  out.push('| scenario | result | s | checks |', '|---|---|---:|---|');
  for (const r of report.results) {
    const verdict = r.skipped ? `skipped: ${r.skipped}` : r.pass ? 'pass' : 'FAIL';
    const checks = r.checks.map((c) => `${c.pass ? '✓' : '✗'} ${c.name}`).join('<br>');
    out.push(`| ${r.title} | ${verdict} | ${r.seconds} | ${checks} |`);
  }
  for (const r of report.results) {
    out.push('', `## ${r.title} (\`${r.name}\`)`, '');
    if (r.error) out.push('```', r.error, '```', '');
    const keys = Object.keys(r.figures);
    if (keys.length > 0) {
      out.push('| figure | value |', '|---|---:|');
      for (const k of keys) out.push(`| ${k} | ${String(r.figures[k])} |`);
      out.push('');
    }
    for (const c of r.checks) out.push(`- ${c.pass ? 'pass' : '**FAIL**'} — ${c.name}: ${c.detail}`);
  }
  return `${out.join('\n')}\n`;
}
