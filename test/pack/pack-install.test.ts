import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePorts } from '../support/fleet.js';
import { redisCli } from '../support/redis-cli.js';

// Issue 14: the packages as published. Every public package is packed (`npm pack`, from the builds
// `npm test` made), and a deployment outside the repository installs only core + host + redirect
// from the tarballs: no workspace links, no other stage. Its `slotrelay` bin must front the shared
// cluster with those stages plus a middleware loaded by folder path (examples/read-only), and name
// what to install when the config asks for a stage that is not there.

const run = promisify(execFile);
const repo = path.resolve(__dirname, '../..');
const readOnlyExample = path.join(repo, 'examples/read-only');
const installed = ['core', 'host', 'middleware-redirect'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-pack-'));
const app = path.join(tmp, 'app');
const bin = path.join(app, 'node_modules/.bin/slotrelay');
let packed: Array<{ name: string; filename: string; files: Array<{ path: string }> }> = [];
let proxy: ChildProcess | undefined;

// The parent `npm test` exports its own settings (workspace, prefix …) as npm_* variables: the
// deployment's npm must not see them.
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_registry',
  ),
);

/** Run the installed bin; its exit code and stderr. */
async function runBin(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(bin, args, { cwd: app, env, timeout: 20_000 });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

/** Run the installed bin with a config. */
function runConfig(config: unknown): Promise<{ code: number; stderr: string }> {
  const file = path.join(app, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return runBin(['--config', file]);
}

function fleetConfig(seeds: string[], ports: number[], middleware?: string[]) {
  const members = ports.map((p) => `127.0.0.1:${p}`);
  return {
    connections: ports.map((p, i) => ({
      name: `proxy-${i + 1}`,
      type: 'RedisCluster',
      redisServers: seeds.slice(0, 2),
      mappings: 'dynamic',
      clusterMembers: members,
      instanceId: i + 1,
      localAddress: '127.0.0.1',
      localPort: p,
    })),
    ...(middleware ? { middleware } : {}),
    // Stopped by SIGTERM: nothing to wait for before draining.
    drainDelayMs: 0,
  };
}

beforeAll(async () => {
  const publicPackages = fs
    .readdirSync(path.join(repo, 'packages'))
    .map(
      (d) =>
        JSON.parse(fs.readFileSync(path.join(repo, 'packages', d, 'package.json'), 'utf8')) as {
          name: string;
          private?: boolean;
        },
    )
    .filter((p) => !p.private)
    .map((p) => p.name);
  // Pack once, every public package in one npm call.
  const { stdout } = await run(
    'npm',
    ['pack', '--json', '--pack-destination', tmp, ...publicPackages.flatMap((n) => ['-w', n])],
    { cwd: repo, env },
  );
  packed = JSON.parse(stdout) as typeof packed;
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'deployment', private: true }));
  const tarballs = installed.map((d) => path.join(tmp, packed.find((p) => p.name === `@slotrelay/${d}`)!.filename));
  // Install once; third-party dependencies come from npm's cache, else the registry.
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], {
    cwd: app,
    env,
    timeout: 110_000,
  });
}, 120_000);

afterAll(() => {
  if (proxy?.exitCode === null) proxy.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('packages as published', () => {
  it('every public package packs with its LICENSE, sources for its maps and no .tsbuildinfo', () => {
    expect(packed.length).toBeGreaterThanOrEqual(installed.length);
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      expect(files, p.name).toContain('LICENSE');
      expect(files, p.name).toContain('src/index.ts');
      expect(
        files.filter((f) => f.endsWith('.tsbuildinfo')),
        p.name,
      ).toEqual([]);
    }
  });

  it('installs core + host + redirect alone, as copies, without the other stages', () => {
    const scope = path.join(app, 'node_modules/@slotrelay');
    expect(fs.readdirSync(scope).sort()).toEqual(installed.slice().sort());
    for (const d of installed) expect(fs.lstatSync(path.join(scope, d)).isSymbolicLink(), d).toBe(false);
  });

  it('fronts the cluster: MOVED names a proxy to a client that does not follow redirects; a middleware loads by folder path', async () => {
    const { seeds, nodes } = inject('cluster');
    const ports = await freePorts(nodes.length);
    const file = path.join(app, 'fleet.json');
    fs.writeFileSync(
      file,
      JSON.stringify(fleetConfig(seeds, ports, ['@slotrelay/middleware-redirect', readOnlyExample])),
    );
    let stderr = '';
    proxy = spawn(bin, ['--config', file, '--log-level', 'warn'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    proxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proxy!.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const pong = await redisCli(['-p', String(ports[0]), 'PING']).catch(() => []);
        if (pong[0] === 'PONG') break;
        if (Date.now() > deadline || proxy.exitCode !== null) throw new Error(`proxy did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // redis-cli without -c: each redirect is printed as Redis's error line, as the proxy rewrote it.
      const keys = Array.from({ length: 30 }, (_, i) => `pack:${i}`);
      const replies = await redisCli(['-p', String(ports[0])], keys.map((k) => `GET ${k}`).join('\n') + '\n');
      const moved = replies.filter((l) => l.startsWith('MOVED '));
      expect(moved.length).toBeGreaterThan(0);
      const members = ports.map((p) => `127.0.0.1:${p}`);
      for (const m of moved) expect(members).toContain(m.split(' ')[2]);

      // The example, by folder path (its own copy of core, from the repository's node_modules).
      expect(await redisCli(['-p', String(ports[0]), 'SET', 'pack:ro', 'v'])).toEqual([
        expect.stringMatching(/^NOPERM this proxy is read-only/),
      ]);
    } finally {
      proxy.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('a config naming a stage that is not installed, or the demo, exits 2 with the package to install', async () => {
    const { seeds } = inject('cluster');
    const [port] = await freePorts(1);
    const base = fleetConfig(seeds, [port!]);
    const cmds = await runConfig({
      ...base,
      middleware: ['@slotrelay/middleware-redirect', '@slotrelay/middleware-cluster-cmds'],
    });
    expect(cmds).toEqual({
      code: 2,
      stderr:
        "slotrelay: config: middleware '@slotrelay/middleware-cluster-cmds' is not installed (npm install @slotrelay/middleware-cluster-cmds)\n",
    });
    // The default list names cluster-cmds and admin too.
    expect((await runConfig(base)).stderr).toContain("'@slotrelay/middleware-cluster-cmds' is not installed");
    const tls = {
      ...base,
      connections: [{ ...base.connections[0], clientTls: { enabled: true, cert: 'c.pem', key: 'k.pem' } }],
    };
    expect(await runConfig(tls)).toEqual({
      code: 2,
      stderr:
        'slotrelay: config: connections[0].clientTls.enabled needs @slotrelay/transport-tls (npm install @slotrelay/transport-tls)\n',
    });
    expect(await runBin(['demo'])).toEqual({
      code: 2,
      stderr: 'slotrelay: demo needs @slotrelay/local-cluster (npm install @slotrelay/local-cluster)\n',
    });
  });
});
