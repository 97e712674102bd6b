#!/usr/bin/env node
// `npm run lint`: eslint, prettier --check and the import-cycle check. eslint and prettier each take
// ~12 s of one core on a cold run, so they run side by side (CI has two cores); each one's output is
// printed whole once it ends. Exits 1 when any of the three fails. Extra arguments go to eslint.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

/** Runs `cmd args` in the repo root; resolves with its exit code once its output is printed. */
function run(label, cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => out.push(b));
    child.on('error', (e) => {
      out.push(Buffer.from(`${e.message}\n`));
    });
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString().trimEnd();
      console.log(`[${label}] ${code === 0 ? 'ok' : `failed (exit ${code})`}${text ? `\n${text}` : ''}`);
      resolve(code ?? 1);
    });
  });
}

const codes = await Promise.all([
  run('eslint', bin('eslint'), [
    '--cache',
    '--cache-location',
    'node_modules/.cache/eslint/',
    ...process.argv.slice(2),
    '.',
  ]),
  run('prettier', bin('prettier'), ['--check', '--cache', '**/*.{ts,js,mjs}']),
  run('cycles', process.execPath, [path.join(root, 'scripts', 'check-cycles.mjs')]),
]);
process.exit(codes.every((c) => c === 0) ? 0 : 1);
