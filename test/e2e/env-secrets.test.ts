import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RespNode, RespType, encodeCommand } from '@slotrelay/core';
import { sharedCluster } from '../support/cluster.js';
import { freePorts } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';

// Issue 15: secrets from the environment. The real CLI, a YAML file whose redisPassword and
// adminPassword are {"env": …}, debug logs and --watch: both secrets work, and their values appear
// nowhere — not in CONFIG GET, not in any log line, not in a reply. A network patch cannot set {env}.

const cli = fileURLToPath(new URL('../../packages/host/bin/slotrelay.js', import.meta.url));
const USER = `slotrelay-env-${process.pid}`;
const REDIS_SECRET = `redis-secret-${process.pid}-xyzzy`;
const ADMIN_SECRET = `admin-secret-${process.pid}-plugh`;

const ask = async (c: RawClient, ...args: string[]): Promise<RespNode> => {
  c.send(encodeCommand(args));
  return c.reply();
};
const text = (r: RespNode) => `${r.type === RespType.Error ? '-' : '+'}${r.text ?? r.data?.toString()}`;

async function onEveryNode(...args: string[]): Promise<void> {
  for (const n of sharedCluster().nodes) {
    const c = await RawClient.connect(n.port, n.host);
    await c.call(...args).finally(() => c.close());
  }
}

describe('secrets from the environment', () => {
  let dir: string;
  let file: string;
  let child: ChildProcess | undefined;
  let ports: number[];
  let admin: RawClient;
  let output = '';
  let config: Record<string, unknown>;
  const writeConfig = (c: unknown) => {
    fs.writeFileSync(`${file}.tmp`, stringify(c));
    fs.renameSync(`${file}.tmp`, file);
  };
  const patch = async (ops: unknown) => text(await ask(admin, 'GALLIUMDATA', 'CONFIG', 'PATCH', JSON.stringify(ops)));

  beforeAll(async () => {
    await onEveryNode('ACL', 'SETUSER', USER, 'on', `>${REDIS_SECRET}`, '~*', '&*', '+@all');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-env-'));
    file = path.join(dir, 'slotrelay.yaml');
    ports = await freePorts(6);
    config = {
      adminPassword: { env: 'ADMIN_PASSWORD' },
      connections: ports.map((port, i) => ({
        name: `p${i + 1}`,
        type: 'RedisCluster',
        redisServers: sharedCluster().seeds.slice(0, 2),
        mappings: 'dynamic',
        clusterMembers: ports.map((p) => `127.0.0.1:${p}`),
        instanceId: i + 1,
        localAddress: '127.0.0.1',
        localPort: port,
        redisUsername: USER,
        redisPassword: { env: 'REDIS_PASSWORD' },
      })),
    };
    writeConfig(config);
    child = spawn(process.execPath, [cli, '--config', file, '--watch', '--log-level', 'debug'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_PASSWORD: REDIS_SECRET, ADMIN_PASSWORD: ADMIN_SECRET },
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await pollUntil('6 listeners', () => (output.match(/"msg":"listening"/g)?.length ?? 0) >= 6, 20_000, 25);
    admin = await RawClient.connect(ports[0]!);
  });

  afterAll(async () => {
    admin?.close();
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    await onEveryNode('ACL', 'DELUSER', USER);
  });

  it('both secrets work: discovery authenticates, GALLIUMDATA AUTH takes the admin password', async () => {
    expect(await admin.call('PING')).toBe('PONG'); // the first request: discovery with the env password
    expect(text(await ask(admin, 'GALLIUMDATA', 'AUTH', ADMIN_SECRET))).toBe('+OK');
    expect(text(await ask(admin, 'GALLIUMDATA', 'SCANCLUSTER'))).toMatch(/^\+OK/);
  });

  it('CONFIG GET masks them', async () => {
    const got = text(await ask(admin, 'GALLIUMDATA', 'CONFIG', 'GET'));
    expect(got).toContain('"redisPassword": "********"');
    expect(got).toContain('"adminPassword": "********"');
    expect(got).not.toContain(REDIS_SECRET);
    expect(got).not.toContain(ADMIN_SECRET);
  });

  it('a network patch cannot set {"env": …}, anywhere; the log level pinned by --log-level is refused too', async () => {
    const refused = /^-ERR config patch: operation #0 sets an environment reference/;
    expect(await patch([{ op: 'replace', path: '/connections/0/redisPassword', value: { env: 'HOME' } }])).toMatch(
      refused,
    );
    expect(await patch([{ op: 'add', path: '/middlewareConfig', value: { x: { y: { env: 'PATH' } } } }])).toMatch(
      refused,
    );
    expect(await patch([{ op: 'add', path: '/log', value: { level: 'warn' } }])).toMatch(
      /^-ERR config change not applied: log\.level is set by --log-level debug/,
    );
  });

  it('a patch with several problems is refused in one reply line naming each; the connection goes on', async () => {
    const reply = await patch([
      { op: 'add', path: '/colour', value: 'blue' },
      { op: 'add', path: '/topologyCheckIntervalMs', value: -1 },
    ]);
    expect(reply).toMatch(/^-ERR .*unknown field 'colour'.*; .*topologyCheckIntervalMs must be >= 0/);
    expect(await admin.call('PING')).toBe('PONG');
  });

  it('--watch of the YAML file applies a change and keeps resolving the references', async () => {
    const from = output.length;
    writeConfig({ ...config, topologyCheckIntervalMs: 4000 });
    await pollUntil('the change applied', () => output.slice(from).includes('config file change applied'), 10_000, 25);
    expect(output.slice(from)).toMatch(/"summary":"topologyCheckIntervalMs: unset -> 4000"/);
    expect(text(await ask(admin, 'GALLIUMDATA', 'SCANCLUSTER'))).toMatch(/^\+OK/);
  });

  it('no log line holds either value (debug level, every step above)', () => {
    expect(output).toContain('config applied');
    expect(output).not.toContain(REDIS_SECRET);
    expect(output).not.toContain(ADMIN_SECRET);
  });
});
