#!/usr/bin/env node
// Import-cycle check (issue 14, "Habits"): no two files of a package's src import each other, however
// long the chain, and the workspace packages' @slotrelay/* dependencies form no cycle either.
// Prints each cycle as a chain (a.ts -> b.ts -> a.ts) and exits 1; exits 0 when there is none.
//
//   node scripts/check-cycles.mjs [--root DIR]
//
// Every static import counts, `import type` and `export … from` included: a type-only cycle is
// still two files that cannot be read (or cut) apart. No dependency: a regex over the sources
// is enough for import lines that prettier keeps in one shape.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

/** The folders whose package.json files take part, as in the root package.json's workspaces. */
const WORKSPACE_GLOBS = ['packages', 'examples'];
const WORKSPACE_DIRS = ['bench', 'chaos'];

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative imports of `file`, resolved to the .ts files they name (`./x.js` -> `x.ts`). */
function relativeImports(file) {
  const text = readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || !spec.startsWith('.')) continue;
    const base = path.resolve(path.dirname(file), spec);
    const candidates = [
      base.replace(/\.(m?js)$/, (_, ext) => (ext === 'mjs' ? '.mts' : '.ts')),
      base,
      `${base}.ts`,
      path.join(base, 'index.ts'),
    ];
    const hit = candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile());
    if (hit) out.push(hit);
  }
  return out;
}

/**
 * The strongly connected components of `graph` (Map node -> nodes) that hold a cycle: for each,
 * `members` (sorted) and `chain`, a shortest cycle through its first member, e.g. [a, b, a].
 */
export function findCycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const sccs = [];
  const strong = (v) => {
    // Recursive Tarjan: a package's src is a few dozen files, far below the stack's depth.
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return sccs.map((scc) => ({ members: scc.sort(), chain: cycleIn(graph, new Set(scc)) }));
}

/** One cycle inside the component `members`, from its first node (sorted) back to it. */
function cycleIn(graph, members) {
  const start = [...members].sort()[0];
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) return [...pathTo(prev, v), start];
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`no cycle through ${start}`);
}

/** The path from the search's start to `v`, read back through `prev`. */
function pathTo(prev, v) {
  const out = [];
  for (let x = v; x !== null; x = prev.get(x)) out.unshift(x);
  return out;
}

function workspaceDirs(root) {
  const dirs = [];
  for (const g of WORKSPACE_GLOBS) {
    const d = path.join(root, g);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) {
      if (existsSync(path.join(d, name, 'package.json'))) dirs.push(path.join(d, name));
    }
  }
  for (const d of WORKSPACE_DIRS) if (existsSync(path.join(root, d, 'package.json'))) dirs.push(path.join(root, d));
  return dirs;
}

/** Cycles among the files of each package's src. */
export function fileCycles(root) {
  const cycles = [];
  for (const dir of workspaceDirs(root)) {
    const src = path.join(dir, 'src');
    if (!existsSync(src)) continue;
    const graph = new Map();
    for (const f of listTs(src)) graph.set(f, relativeImports(f));
    const rel = (f) => path.relative(root, f).split(path.sep).join('/');
    for (const c of findCycles(graph)) cycles.push({ members: c.members.map(rel), chain: c.chain.map(rel) });
  }
  return cycles;
}

/** Cycles among the workspace packages through dependencies, devDependencies and peerDependencies. */
export function packageCycles(root) {
  const pkgs = new Map();
  for (const dir of workspaceDirs(root)) {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    pkgs.set(pkg.name, pkg);
  }
  const graph = new Map();
  for (const [name, pkg] of pkgs) {
    const deps = new Set();
    for (const field of ['dependencies', 'devDependencies', 'peerDependencies']) {
      for (const dep of Object.keys(pkg[field] ?? {})) if (pkgs.has(dep)) deps.add(dep);
    }
    graph.set(name, [...deps]);
  }
  return findCycles(graph);
}

/** The chain, and the component's other files when the chain does not pass through them all. */
function describe(cycle) {
  const rest = cycle.members.filter((f) => !cycle.chain.includes(f));
  return `${cycle.chain.join(' -> ')}${rest.length > 0 ? ` (in one loop with ${rest.join(', ')})` : ''}`;
}

function main() {
  const at = process.argv.indexOf('--root');
  const root = path.resolve(
    at >= 0 ? process.argv[at + 1] : path.join(path.dirname(new URL(import.meta.url).pathname), '..'),
  );
  let failed = 0;
  for (const c of fileCycles(root)) {
    console.error(`import cycle: ${describe(c)}`);
    failed++;
  }
  for (const c of packageCycles(root)) {
    console.error(`package dependency cycle: ${describe(c)}`);
    failed++;
  }
  if (failed > 0) {
    console.error(`${failed} cycle(s)`);
    process.exit(1);
  }
  console.log('no import cycles');
}

main();
