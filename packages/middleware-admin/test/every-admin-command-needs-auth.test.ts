import { describe, expect, it } from 'vitest';
import type { SlotrelayConfig } from '@slotrelay/core';
import {
  ADMIN_COMMAND_NAMES,
  ADMIN_SUBCOMMANDS,
  type AdminAccess,
  type AdminSubcommandSpec,
} from '@slotrelay/middleware-admin';
import { adminHarness, cmd, stubControl, stubTopology } from './support/fixtures.js';

// Security review (issue 13): with adminPassword set, no admin command gets past without
// GALLIUMDATA AUTH — derived from the middleware's own command table, so a command added later is
// covered, and an access level added later must be given a row here before the suite passes.

const PASSWORD = 'correct horse battery staple';
const PATCH = JSON.stringify([{ op: 'replace', path: '/log/level', value: 'debug' }]);

/** A well-formed request for `spec` under `alias`. */
function requestFor(alias: string, spec: AdminSubcommandSpec): string {
  const args = spec.args.map((a) => (a === '<json-patch>' ? PATCH : a === '<password>' ? PASSWORD : 'x'));
  return cmd(alias, ...spec.name.split(' '), ...args);
}

/** Whether each access level needs AUTH, with and without adminReadsRequireAuth (a password being set). */
const NEEDS_AUTH: Record<AdminAccess, { readsOpen: boolean; readsClosed: boolean }> = {
  read: { readsOpen: false, readsClosed: true },
  write: { readsOpen: true, readsClosed: true },
  action: { readsOpen: true, readsClosed: true },
  auth: { readsOpen: false, readsClosed: false },
};

const guarded = ADMIN_SUBCOMMANDS.filter((c) => c.access !== 'auth');

describe('with adminPassword set, every admin command without AUTH is refused', () => {
  it('the table covers every access level the command table uses', () => {
    for (const c of ADMIN_SUBCOMMANDS) expect(Object.keys(NEEDS_AUTH), c.name).toContain(c.access);
    expect(guarded.map((c) => c.name)).toEqual(
      expect.arrayContaining(['SCANCLUSTER', 'STATUSCLUSTER', 'CONFIG GET', 'CONFIG PATCH', 'HELP']),
    );
  });

  it('the commands that change state need AUTH even while reads are open: CONFIG PATCH, and SCANCLUSTER (it remaps and can close sessions)', () => {
    const writes = guarded.filter((c) => NEEDS_AUTH[c.access].readsOpen).map((c) => c.name);
    expect(writes).toEqual(expect.arrayContaining(['SCANCLUSTER', 'CONFIG PATCH']));
  });

  for (const readsRequireAuth of [true, false]) {
    for (const alias of ADMIN_COMMAND_NAMES) {
      for (const spec of guarded) {
        const needs = NEEDS_AUTH[spec.access][readsRequireAuth ? 'readsClosed' : 'readsOpen'];
        const title = `${alias} ${spec.name} (${spec.access}), adminReadsRequireAuth ${readsRequireAuth}: ${needs ? 'refused' : 'answered'} without AUTH and after a wrong password`;
        it(title, async () => {
          const config: SlotrelayConfig = {
            connections: [],
            adminPassword: PASSWORD,
            adminReadsRequireAuth: readsRequireAuth,
          };
          const control = stubControl();
          const topology = stubTopology();
          const h = await adminHarness({ config, control, topology });
          /** What the client receives for one request (the harness keeps everything written). */
          const reply = async (request: string) => {
            const before = h.toClient().length;
            h.clientSends(request);
            await h.settle();
            return h.toClient().slice(before);
          };
          const refusal = new RegExp(`^-ERR admin (reads|writes) need ${alias} AUTH first\r\n$`);
          const check = (r: string) => (needs ? expect(r).toMatch(refusal) : expect(r).not.toMatch(/^-ERR admin/));
          check(await reply(requestFor(alias, spec)));
          expect(await reply(cmd(alias, 'AUTH', 'wrong'))).toBe('-ERR invalid admin password\r\n');
          check(await reply(requestFor(alias, spec)));
          if (needs) {
            // Nothing happened: no patch, no rescan, nothing sent to Redis.
            expect(control.patches).toEqual([]);
            expect(topology.reasons).toEqual([]);
            expect(h.toRedis()).toBe('');
          }
          // After the right password it is answered.
          expect(await reply(cmd(alias, 'AUTH', PASSWORD))).toBe('+OK\r\n');
          expect(await reply(requestFor(alias, spec))).not.toMatch(/^-ERR/);
        });
      }
    }
  }

  it('every refused write is logged at warn with the client address; so is every failed AUTH', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD } });
    for (const spec of guarded) h.clientSends(requestFor('GALLIUMDATA', spec));
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', 'wrong'));
    const writes = guarded.filter((c) => NEEDS_AUTH[c.access].readsOpen).map((c) => c.name);
    expect(writes.length).toBeGreaterThan(0);
    for (const command of writes) {
      expect(h.logLines, command).toContainEqual({
        level: 'warn',
        msg: 'admin write refused',
        obj: expect.objectContaining({ client: '127.0.0.1:40000', command }),
      });
    }
    expect(h.logLines).toContainEqual({
      level: 'warn',
      msg: 'admin AUTH failed',
      obj: expect.objectContaining({ client: '127.0.0.1:40000' }),
    });
    expect(JSON.stringify(h.logLines)).not.toContain(PASSWORD);
  });

  it('AUTH without any adminPassword configured is a failed AUTH, logged at warn', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', 'guess'));
    expect(h.logLines).toContainEqual({
      level: 'warn',
      msg: 'admin AUTH failed',
      obj: expect.objectContaining({ client: '127.0.0.1:40000' }),
    });
    expect(JSON.stringify(h.logLines)).not.toContain('guess');
  });

  it('accepted writes are logged at info with the client address (SCANCLUSTER too)', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(
      cmd('GALLIUMDATA', 'AUTH', PASSWORD),
      cmd('GALLIUMDATA', 'SCANCLUSTER'),
      cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH),
    );
    await h.settle();
    for (const command of ['SCANCLUSTER', 'CONFIG PATCH']) {
      for (const msg of ['admin write', 'admin write applied']) {
        expect(h.logLines, `${command} ${msg}`).toContainEqual({
          level: 'info',
          msg,
          obj: expect.objectContaining({ client: '127.0.0.1:40000', command }),
        });
      }
    }
  });
});

describe('without adminPassword', () => {
  it('SCANCLUSTER stays open, as in Gallium Data (there is no password to ask for); CONFIG PATCH is disabled', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('GALLIUMDATA', 'SCANCLUSTER'), cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    await h.settle();
    expect(h.toClient()).toBe(
      '+OK 4 nodes found in cluster\r\n-ERR admin writes are disabled: set adminPassword in the config\r\n',
    );
  });
});
