import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RespNode, RespType, encodeCommand } from '@slotrelay/core';
import { ADMIN_COMMAND_NAMES, ADMIN_SUBCOMMANDS, type AdminSubcommandSpec } from '@slotrelay/middleware-admin';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';
import { redisCli } from '../support/redis-cli.js';
import { captureLogger } from '../../packages/transport-tls/test/helpers.js';

// Security review (issue 13) against a real fleet and real clients: with adminPassword and
// adminReadsRequireAuth, every admin command of the middleware's own table is refused without
// GALLIUMDATA AUTH and after a wrong one; RESET (answered by the real Redis) clears AUTH.

const PASSWORD = 'correct horse battery staple';
const PATCH = JSON.stringify([{ op: 'add', path: '/shutdownGraceMs', value: 500 }]);

const args = (alias: string, spec: AdminSubcommandSpec) => [
  alias,
  ...spec.name.split(' '),
  ...spec.args.map((a) => (a === '<json-patch>' ? PATCH : a === '<password>' ? PASSWORD : 'x')),
];
const ask = async (c: RawClient, ...a: string[]): Promise<RespNode> => {
  c.send(encodeCommand(a));
  return c.reply();
};
const text = (r: RespNode) => `${r.type === RespType.Error ? '-' : '+'}${r.text ?? r.data?.toString()}`;

describe('admin commands with adminPassword and adminReadsRequireAuth', () => {
  let fleet: TestFleet;
  const log = captureLogger();
  const guarded = ADMIN_SUBCOMMANDS.filter((c) => c.access !== 'auth');

  beforeAll(async () => {
    fleet = await startFleet({
      seeds: sharedCluster().seeds.slice(0, 2),
      log,
      edit: (c) =>
        Object.assign(c, { adminPassword: PASSWORD, adminReadsRequireAuth: true, topologyCheckIntervalMs: 0 }),
    });
  });
  afterAll(() => fleet?.stop());

  it('refuses every command of the table through redis-cli (a connection that never sent AUTH), under both aliases', async () => {
    expect(guarded.length).toBeGreaterThanOrEqual(5);
    for (const alias of ADMIN_COMMAND_NAMES) {
      for (const spec of guarded) {
        const out = await redisCli(['-p', String(fleet.ports[1]), ...args(alias, spec)]);
        expect(out, `${alias} ${spec.name}`).toEqual([
          expect.stringMatching(new RegExp(`^ERR admin (reads|writes) need ${alias} AUTH first$`)),
        ]);
      }
    }
    expect(fleet.fleet.rawConfig()).not.toHaveProperty('shutdownGraceMs');
  });

  it('refuses every command of the table after a wrong password, answers them after the right one', async () => {
    const c = await RawClient.connect(fleet.ports[2]!);
    try {
      expect(text(await ask(c, 'GALLIUMDATA', 'AUTH', 'wrong'))).toBe('-ERR invalid admin password');
      for (const spec of guarded)
        expect(text(await ask(c, ...args('GALLIUMDATA', spec))), spec.name).toMatch(
          /^-ERR admin (reads|writes) need GALLIUMDATA AUTH first$/,
        );
      expect(fleet.fleet.rawConfig()).not.toHaveProperty('shutdownGraceMs');
      expect(text(await ask(c, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('+OK');
      for (const spec of guarded)
        expect(text(await ask(c, ...args('GALLIUMDATA', spec))), spec.name).not.toMatch(/^-ERR/);
      expect(fleet.fleet.rawConfig()).toHaveProperty('shutdownGraceMs', 500);
    } finally {
      c.close();
    }
    // The failed AUTH is logged at warn with the client address; so is every refused write.
    expect(log.at('warn')).toContainEqual(
      expect.objectContaining({
        msg: 'admin AUTH failed',
        obj: expect.objectContaining({ client: expect.stringMatching(/^127\.0\.0\.1:\d+$/) }),
      }),
    );
    for (const command of ['SCANCLUSTER', 'CONFIG PATCH']) {
      expect(log.at('warn')).toContainEqual(
        expect.objectContaining({
          msg: 'admin write refused',
          obj: expect.objectContaining({ command, client: expect.stringMatching(/^127\.0\.0\.1:\d+$/) }),
        }),
      );
    }
  });

  it('RESET (answered by Redis) clears AUTH: the next admin command is refused until AUTH again', async () => {
    const c = await RawClient.connect(fleet.ports[3]!);
    try {
      expect(text(await ask(c, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('+OK');
      expect(text(await ask(c, 'GALLIUMDATA', 'CONFIG', 'GET'))).toMatch(/^\+\{/);
      expect(text(await ask(c, 'RESET'))).toBe('+RESET');
      expect(text(await ask(c, 'GALLIUMDATA', 'CONFIG', 'GET'))).toBe('-ERR admin reads need GALLIUMDATA AUTH first');
      expect(text(await ask(c, 'GALLIUMDATA', 'CONFIG', 'PATCH', PATCH))).toBe(
        '-ERR admin writes need GALLIUMDATA AUTH first',
      );
      // The connection itself is fine: Redis serves it, and AUTH works again.
      expect(await c.call('PING')).toBe('PONG');
      expect(text(await ask(c, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('+OK');
      expect(text(await ask(c, 'GALLIUMDATA', 'CONFIG', 'GET'))).toMatch(/^\+\{/);
    } finally {
      c.close();
    }
  });

  it('RESET inside MULTI is not queued by Redis, and clears AUTH too', async () => {
    const c = await RawClient.connect(fleet.ports[3]!);
    try {
      expect(text(await ask(c, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('+OK');
      expect(text(await ask(c, 'MULTI'))).toBe('+OK');
      expect(text(await ask(c, 'RESET'))).toBe('+RESET');
      expect(text(await ask(c, 'GALLIUMDATA', 'CONFIG', 'GET'))).toBe('-ERR admin reads need GALLIUMDATA AUTH first');
    } finally {
      c.close();
    }
  });
});
