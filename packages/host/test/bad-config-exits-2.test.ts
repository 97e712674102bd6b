import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = path.resolve(__dirname, '../bin/slotrelay.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-cfg-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const good = () => ({
  connections: [
    {
      name: 'a',
      type: 'RedisCluster',
      redisServers: ['127.0.0.1:7000'],
      mappings: 'dynamic',
      clusterMembers: ['127.0.0.1:6391'],
      instanceId: 1,
      localAddress: '127.0.0.1',
      localPort: 6391,
    },
  ],
});

async function runWith(config: unknown, env: NodeJS.ProcessEnv = {}) {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
  try {
    const r = await run(process.execPath, [cli, '--config', file], {
      env: { ...process.env, ...env },
      timeout: 20_000,
    });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

// Bad config: one clear line naming the field and the problem, exit code 2, nothing started.
const cases: Array<[string, (c: ReturnType<typeof good>) => unknown, RegExp]> = [
  [
    'a missing field',
    (c) => {
      delete (c.connections[0] as Partial<(typeof c.connections)[0]>).localPort;
      return c;
    },
    /connections\[0\] is missing the required field 'localPort'/,
  ],
  [
    'a wrong type',
    (c) => {
      (c.connections[0] as Record<string, unknown>).localPort = '6391';
      return c;
    },
    /connections\[0\]\.localPort should be integer, instead got "6391"/,
  ],
  [
    'an unknown middleware',
    (c) => ({ ...c, middleware: ['@slotrelay/no-such-thing'] }),
    /middleware '@slotrelay\/no-such-thing' is not installed \(npm install @slotrelay\/no-such-thing\)/,
  ],
  ['an unknown field', (c) => ({ ...c, colour: 'blue' }), /the top level has an unknown field 'colour'/],
  [
    'a bad enum',
    (c) => {
      (c.connections[0] as Record<string, unknown>).mappings = 'magic';
      return c;
    },
    /connections\[0\]\.mappings should be one of "dynamic", "static", instead got "magic"/,
  ],
  [
    'an unparsable address',
    (c) => {
      c.connections[0]!.redisServers = ['localhost'];
      return c;
    },
    /connections\[0\]\.redisServers\[0\] should be host:port/,
  ],
  [
    'an instance ID out of range',
    (c) => {
      c.connections[0]!.instanceId = 4;
      return c;
    },
    /instanceId should be between 1 and 1/,
  ],
  [
    'a maxWholeFrameBytes below the hold limit',
    (c) => {
      (c.connections[0] as Record<string, unknown>).maxWholeFrameBytes = 1000;
      return c;
    },
    /connections\[0\]\.maxWholeFrameBytes must be >= 65536, instead got 1000/,
  ],
  ['invalid JSON', () => '{"connections": [', /is not valid JSON/],
  [
    'a duplicate port',
    (c) => ({ connections: [c.connections[0], { ...c.connections[0], name: 'b' }] }),
    /localPort 6391 is used by another active connection/,
  ],
  [
    'an unreadable TLS file',
    (c) => {
      (c.connections[0] as Record<string, unknown>).clientTls = {
        enabled: true,
        cert: '/nope/cert.pem',
        key: '/nope/key.pem',
      };
      return c;
    },
    /connections\[0\]\.clientTls\.cert file '\/nope\/cert\.pem' cannot be read: ENOENT/,
  ],
  [
    'mTLS without a CA',
    (c) => {
      (c.connections[0] as Record<string, unknown>).clientTls = {
        enabled: true,
        cert: __filename,
        key: __filename,
        requireClientCert: true,
      };
      return c;
    },
    /clientTls\.requireClientCert needs clientTls\.ca/,
  ],
];

describe('slotrelay --config with a bad config', () => {
  for (const [what, make, message] of cases) {
    it(`${what}: one line, exit 2`, async () => {
      const r = await runWith(make(good()));
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    });
  }

  it('a missing instance ID names both the field and the environment variables', async () => {
    const c = good();
    delete (c.connections[0] as { instanceId?: number }).instanceId;
    const r = await runWith(c, { instance_id: '', SLOTRELAY_INSTANCE_ID: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/instanceId should be a positive integer|instanceId is missing/);
  });

  it('a missing --config is exit 2 too', async () => {
    try {
      await run(process.execPath, [cli], { timeout: 20_000 });
      expect.unreachable();
    } catch (e) {
      expect((e as { code: number }).code).toBe(2);
      expect((e as { stderr: string }).stderr).toMatch(/--config <file> is required/);
    }
  });

  it('prints --help and --version', async () => {
    const help = await run(process.execPath, [cli, '--help']);
    expect(help.stdout).toMatch(/--config <file>/);
    expect(help.stdout).toMatch(/demo/);
    const version = await run(process.execPath, [cli, '--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
