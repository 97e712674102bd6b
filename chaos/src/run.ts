#!/usr/bin/env node
/**
 * `npm run chaos [-- --quick] [--only a,b]`: runs the fault scenarios one after another and writes
 * their figures to chaos/results/<date>.json and .md (quick runs write to the temp dir instead, so
 * CI leaves the repo clean). Exits 1 when any check fails.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenarios } from './runner.js';
import { toMarkdown } from './report.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',').filter(Boolean) : [];

const results = await runScenarios({ quick, only });
const stamp = new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '');
const dir = quick ? path.join(tmpdir(), 'slotrelay-chaos') : fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const base = path.join(dir, `${stamp}${quick ? '-quick' : ''}`);
const report = { date: new Date().toISOString(), quick, node: process.version, results };
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.md`, toMarkdown(report));
process.stdout.write(`${toMarkdown(report)}\nresults: ${base}.json\n`);
const failed = results.filter((r) => !r.pass).length;
process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
