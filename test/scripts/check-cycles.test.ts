import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../scripts/check-cycles.mjs', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];

/** A throwaway workspace: `files` maps a path under it to the file's text. */
function workspace(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-cycles-'));
  dirs.push(root);
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
  return root;
}

function check(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const pkg = (name: string, deps: Record<string, string> = {}): string =>
  JSON.stringify({ name, devDependencies: deps });

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('scripts/check-cycles.mjs', () => {
  it('prints a three-file import loop as a chain and exits 1, type-only imports included', () => {
    const root = workspace({
      'packages/a/package.json': pkg('@x/a'),
      'packages/a/src/index.ts': "export { one } from './one.js';\n",
      'packages/a/src/one.ts': "import { two } from './two.js';\nexport const one = () => two();\n",
      'packages/a/src/two.ts': "import type { Three } from './three.js';\nexport const two = (t?: Three) => t;\n",
      'packages/a/src/three.ts': "import { one } from './one.js';\nexport type Three = ReturnType<typeof one>;\n",
    });
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      'import cycle: packages/a/src/one.ts -> packages/a/src/two.ts -> packages/a/src/three.ts -> packages/a/src/one.ts',
    );
  });

  it('finds a loop through a folder import (./dir names dir/index.ts) and a file importing itself', () => {
    const root = workspace({
      'packages/a/package.json': pkg('@x/a'),
      'packages/a/src/main.ts': "export * from './lib';\n",
      'packages/a/src/lib/index.ts': "import { main } from '../main.js';\nexport const lib = main;\n",
      'packages/a/src/self.ts': "export { self } from './self.js';\nexport const self = 1;\n",
    });
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.out).toContain(
      'import cycle: packages/a/src/lib/index.ts -> packages/a/src/main.ts -> packages/a/src/lib/index.ts',
    );
    expect(r.out).toContain('import cycle: packages/a/src/self.ts -> packages/a/src/self.ts');
  });

  it('finds a cycle among the workspace packages through a devDependency', () => {
    const root = workspace({
      'packages/core/package.json': pkg('@x/core', { '@x/testkit': '1.0.0' }),
      'packages/testkit/package.json': pkg('@x/testkit', { '@x/core': '1.0.0', vitest: '4' }),
      'packages/host/package.json': pkg('@x/host', { '@x/core': '1.0.0' }),
    });
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.out).toContain('package dependency cycle: @x/core -> @x/testkit -> @x/core');
  });

  it('passes an import tree with no loop, and this repo', () => {
    const root = workspace({
      'packages/a/package.json': pkg('@x/a'),
      'packages/b/package.json': pkg('@x/b', { '@x/a': '1.0.0' }),
      'packages/a/src/index.ts': "export { one } from './one.js';\nexport { two } from './two.js';\n",
      'packages/a/src/one.ts': "import { two } from './two.js';\nexport const one = () => two();\n",
      'packages/a/src/two.ts': "import { readFileSync } from 'node:fs';\nexport const two = () => readFileSync;\n",
    });
    expect(check(root)).toEqual({ status: 0, out: 'no import cycles\n' });
    expect(check(repo).status).toBe(0);
  });
});
