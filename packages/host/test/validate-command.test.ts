import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// `slotrelay validate --config FILE [--hostname NAME]`: what the proxy checks at start, exit 0 or 2,
// one line per problem, nothing bound or dialled.

const run = promisify(execFile);
const cli = path.resolve(__dirname, '../bin/slotrelay.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-validate-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function validate(name: string, text: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  try {
    const r = await run(process.execPath, [cli, 'validate', '--config', file, ...args], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 20_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** A port that something listens on, so that a proxy that tried to bind it would fail. */
async function takenPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as net.AddressInfo).port, close: () => new Promise((r) => s.close(() => r())) };
}

const yaml = (port: number, extra = '') => `connections:
  - name: orders
    type: RedisCluster
    # no Redis answers here: validate dials nothing
    redisServers: ["127.0.0.1:1"]
    mappings: dynamic
    clusterMembers: ["127.0.0.1:${port}", "127.0.0.1:2"]
    localAddress: 127.0.0.1
    localPort: ${port}
    instanceIdFrom: ordinal
    redisPassword: { env: REDIS_PASSWORD }
${extra}`;

describe('slotrelay validate', () => {
  it('a good YAML file: exit 0, the instance ID from --hostname; nothing is bound (its port is taken) or dialled', async () => {
    const taken = await takenPort();
    try {
      const r = await validate('good.yaml', yaml(taken.port), ['--hostname', 'slotrelay-0'], {
        REDIS_PASSWORD: 'pw-from-env',
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/good\.yaml: valid \(1 connection\)/);
      expect(r.stdout).toMatch(/orders: listens on 127\.0\.0\.1:\d+, instance 1 of 2/);
      expect(r.stdout).toMatch(/host name read for instanceIdFrom: slotrelay-0/);
      expect(r.stdout).not.toContain('pw-from-env');
    } finally {
      await taken.close();
    }
  });

  it('a bad YAML file: exit 2, one line per problem (missing variable, typo, host name without ordinal)', async () => {
    const r = await validate('bad.yaml', yaml(6391, '    maxclients: 5\n'), ['--hostname', 'proxy']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'slotrelay: config: connections[0].redisPassword: the environment variable REDIS_PASSWORD is not set (or is empty)',
      "slotrelay: config: connections[0] has an unknown field 'maxclients' (did you mean 'maxClients'?)",
    ]);
    // With the schema satisfied, the next check (the instance ID) speaks.
    const r2 = await validate('bad2.yaml', yaml(6391), ['--hostname', 'proxy'], { REDIS_PASSWORD: 'x' });
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim().split('\n')).toEqual([
      `slotrelay: config: connections[0].instanceIdFrom is "ordinal" but the host name 'proxy' (HOSTNAME) does not end in -N, as a StatefulSet pod's name does (<statefulset>-0, -1 …)`,
    ]);
  });

  it('JSON: a good file exits 0; unreadable TLS files and an unknown middleware exit 2, each on its line', async () => {
    const conn = {
      name: 'a',
      type: 'RedisCluster',
      redisServers: ['127.0.0.1:1'],
      mappings: 'dynamic',
      clusterMembers: ['127.0.0.1:6391'],
      instanceId: 1,
      localPort: 6391,
    };
    const good = await validate('good.json', JSON.stringify({ connections: [conn] }));
    expect(good.code).toBe(0);
    const bad = await validate(
      'bad.json',
      JSON.stringify({
        connections: [
          { ...conn, clientTls: { enabled: true, cert: '/nope/cert.pem', key: '/nope/key.pem' } },
          { ...conn, name: 'b', localPort: 6392, clusterMembers: ['127.0.0.1:6391', 'nope'] },
        ],
      }),
    );
    expect(bad.code).toBe(2);
    const lines = bad.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^slotrelay: config: connections\[0\]\.clientTls\.cert file '\/nope\/cert\.pem' cannot be read/,
    );
    expect(lines[1]).toMatch(/^slotrelay: config: connections\[1\]\.clusterMembers\[1\] should be host:port/);
    const mw = await validate('mw.json', JSON.stringify({ connections: [conn], middleware: ['@slotrelay/nope'] }));
    expect(mw.code).toBe(2);
    expect(mw.stderr.trim()).toBe(
      "slotrelay: config: middleware '@slotrelay/nope' is not installed (npm install @slotrelay/nope)",
    );
  });
});
