import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RespNode, RespType, encodeCommand } from '@slotrelay/core';
import { watchConfigFile } from '@slotrelay/host';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { captureLogger } from '../../packages/host/test/support/log.js';

// Issue 15, fix first: a changed redisPassword / redisUsername was reported applied while discovery
// kept the old credentials until a restart. Here Redis requires them (an ACL user of this test on
// every node of the shared cluster; the default user, which other files use, is left alone), the
// password changes on Redis, then in the proxy by CONFIG PATCH and by --watch of a YAML file.

const USER = `slotrelay-cred-${process.pid}`;
const ADMIN = 'admin-pw';

const ask = async (c: RawClient, ...args: string[]): Promise<RespNode> => {
  c.send(encodeCommand(args));
  return c.reply();
};
const text = (r: RespNode) => `${r.type === RespType.Error ? '-' : '+'}${r.text ?? r.data?.toString()}`;

/** Set the test user's only password on every Redis node. */
async function setRedisPassword(password: string): Promise<void> {
  for (const n of sharedCluster().nodes) {
    const c = await RawClient.connect(n.port, n.host);
    try {
      expect(await c.call('ACL', 'SETUSER', USER, 'on', 'resetpass', `>${password}`, '~*', '&*', '+@all')).toBe('OK');
    } finally {
      c.close();
    }
  }
}

describe('credentials change live', () => {
  let fleet: TestFleet;
  let admin: RawClient;
  const log = captureLogger();
  const scan = async () => text(await ask(admin, 'GALLIUMDATA', 'SCANCLUSTER'));

  beforeAll(async () => {
    await setRedisPassword('pw-1');
    fleet = await startFleet({
      seeds: sharedCluster().seeds.slice(0, 2),
      log,
      edit: (c) => {
        c.adminPassword = ADMIN;
        c.allowNetworkPatch = true;
        for (const conn of c.connections) Object.assign(conn, { redisUsername: USER, redisPassword: 'pw-1' });
      },
    });
    admin = await RawClient.connect(fleet.ports[0]!);
    expect(text(await ask(admin, 'GALLIUMDATA', 'AUTH', ADMIN))).toBe('+OK');
  });

  afterAll(async () => {
    admin?.close();
    await fleet?.stop();
    for (const n of sharedCluster().nodes) {
      const c = await RawClient.connect(n.port, n.host);
      await c.call('ACL', 'DELUSER', USER).finally(() => c.close());
    }
  });

  it('by CONFIG PATCH: the new password is used at once; a wrong one is reported with Redis’s reason', async () => {
    expect(await scan()).toMatch(/^\+OK/);
    await setRedisPassword('pw-2');
    // The proxy still sends the old password: Redis says so, and so does the proxy.
    expect(await scan()).toMatch(/^-ERR .*AUTH failed: WRONGPASS/);

    const set = (password: string) =>
      ask(
        admin,
        'GALLIUMDATA',
        'CONFIG',
        'PATCH',
        JSON.stringify([{ op: 'replace', path: '/connections/0/redisPassword', value: password }]),
      );
    expect(text(await set('pw-2'))).toBe(
      `+OK new credentials of ${fleet.config.connections[0]!.name} accepted by Redis`,
    );
    expect(await scan()).toMatch(/^\+OK/);
    // A new client of this proxy is served (its discovery, its upstream) without a restart.
    const client = await RawClient.connect(fleet.ports[0]!);
    try {
      expect(await client.call('PING')).toBe('PONG');
    } finally {
      client.close();
    }

    const wrong = text(await set('not-the-password'));
    expect(wrong).toMatch(
      /^\+OK new credentials of \S+ applied, but Redis refused them \(discovery fails until Redis accepts them\): cannot read the cluster topology .*AUTH failed: WRONGPASS/,
    );
    expect(wrong).not.toContain('not-the-password');
    expect(await scan()).toMatch(/^-ERR .*WRONGPASS/);
    expect(text(await set('pw-2'))).toMatch(/accepted by Redis$/);
  });

  it('by --watch of a YAML file, the password from the environment: the file’s change is applied and used', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-cred-'));
    const file = path.join(dir, 'slotrelay.yaml');
    const config = fleet.fleet.rawConfig();
    const write = (c: unknown) => {
      fs.writeFileSync(`${file}.tmp`, stringify(c));
      fs.renameSync(`${file}.tmp`, file);
    };
    write(config);
    const unwatch = watchConfigFile(file, fleet.fleet, log, 50);
    try {
      await setRedisPassword('pw-3');
      expect(await scan()).toMatch(/^-ERR .*WRONGPASS/);
      process.env.SLOTRELAY_TEST_REDIS_PASSWORD = 'pw-3';
      const from = log.entries.length;
      config.connections[0]!.redisPassword = { env: 'SLOTRELAY_TEST_REDIS_PASSWORD' } as unknown as string;
      write(config);
      const applied = await pollUntil(
        'the file change applied',
        () => log.entries.slice(from).find((e) => /config file change (applied|rejected)/.test(e.msg)),
        10_000,
        25,
      );
      expect(applied.obj.summary).toBe(`new credentials of ${config.connections[0]!.name} accepted by Redis`);
      expect(await scan()).toMatch(/^\+OK/);
      expect(JSON.stringify(log.entries)).not.toContain('pw-3');
    } finally {
      unwatch();
      delete process.env.SLOTRELAY_TEST_REDIS_PASSWORD;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
