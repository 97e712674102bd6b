import { describe, expect, it } from 'vitest';
import { adminHelpLines, parseAdminCommand } from '@slotrelay/middleware-admin';
import { adminHarness, bulk, cmd, statusText } from './support/fixtures.js';

describe('admin command errors', () => {
  const table: Array<[string, string, string]> = [
    ['an unknown subcommand', cmd('GALLIUMDATA', 'FROB'), "-ERR unknown GALLIUMDATA subcommand 'FROB' (try HELP)\r\n"],
    [
      'an unknown subcommand under the alias',
      cmd('slotrelay', 'frob'),
      "-ERR unknown SLOTRELAY subcommand 'frob' (try HELP)\r\n",
    ],
    ['a missing subcommand', cmd('GALLIUMDATA'), "-ERR unknown GALLIUMDATA subcommand '' (try HELP)\r\n"],
    ['a missing subcommand, inline', 'slotrelay\r\n', "-ERR unknown SLOTRELAY subcommand '' (try HELP)\r\n"],
    [
      'an unknown CONFIG subcommand',
      cmd('GALLIUMDATA', 'CONFIG', 'SET', 'a', 'b'),
      "-ERR unknown GALLIUMDATA subcommand 'CONFIG SET' (try HELP)\r\n",
    ],
    ['CONFIG alone', cmd('GALLIUMDATA', 'config'), "-ERR wrong number of arguments for 'GALLIUMDATA CONFIG'\r\n"],
    [
      'an argument too many',
      cmd('GALLIUMDATA', 'scancluster', 'now'),
      "-ERR wrong number of arguments for 'GALLIUMDATA SCANCLUSTER'\r\n",
    ],
    ['AUTH without password', cmd('SLOTRELAY', 'AUTH'), "-ERR wrong number of arguments for 'SLOTRELAY AUTH'\r\n"],
    [
      'CONFIG PATCH without patch',
      cmd('GALLIUMDATA', 'CONFIG', 'PATCH'),
      "-ERR wrong number of arguments for 'GALLIUMDATA CONFIG PATCH'\r\n",
    ],
    // Inline JSON must be quoted ('…'), or its spaces split it into several arguments.
    [
      'CONFIG PATCH with unquoted inline JSON',
      'galliumdata config patch [1, 2]\r\n',
      "-ERR wrong number of arguments for 'GALLIUMDATA CONFIG PATCH'\r\n",
    ],
  ];
  for (const [what, request, reply] of table) {
    it(`answers ${what} locally with a clear error`, async () => {
      const h = await adminHarness();
      h.clientSends(request);
      expect(h.toClient()).toBe(reply);
      expect(h.toRedis()).toBe('');
    });
  }

  it('HELP lists the subcommands as status lines, named after the alias used', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('SLOTRELAY', 'help'));
    const lines = adminHelpLines('SLOTRELAY');
    expect(h.toClient()).toBe(`*${lines.length}\r\n` + lines.map((l) => `+${l}\r\n`).join(''));
    expect(lines[0]).toBe('SLOTRELAY <subcommand> [<arg> ...]. Subcommands are:');
    for (const sub of [
      'SCANCLUSTER',
      'STATUSCLUSTER',
      'CONFIG GET',
      'CONFIG PATCH <json-patch>',
      'AUTH <password>',
      'HELP',
    ])
      expect(lines).toContain(sub);
  });

  it('parseAdminCommand copies the payload out of the frame', () => {
    const buf = Buffer.from('secret');
    const c = parseAdminCommand(['GALLIUMDATA', 'AUTH', buf]);
    buf.fill(0);
    expect(c).toMatchObject({ sub: 'AUTH', alias: 'GALLIUMDATA', access: 'auth' });
    expect((c as { password: Buffer }).password.toString()).toBe('secret');
  });
});

describe('admin commands inside MULTI', () => {
  it('are refused locally; Redis sees MULTI and EXEC only, and EXEC does not include them', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('MULTI'));
    h.redisSends('+OK\r\n');
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient()).toBe('+OK\r\n-ERR GALLIUMDATA commands cannot be used inside MULTI\r\n');
    h.clientSends(cmd('EXEC'));
    h.redisSends('*0\r\n');
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toRedis()).toBe(cmd('MULTI') + cmd('EXEC'));
    expect(h.toClient()).toBe(
      '+OK\r\n-ERR GALLIUMDATA commands cannot be used inside MULTI\r\n*0\r\n' + bulk(statusText(1)),
    );
  });

  it('are judged at their own place in a pipeline: MULTI + admin + EXEC in one chunk is refused, admin + MULTI is not', async () => {
    const h = await adminHarness();
    h.clientSends(
      cmd('MULTI') + cmd('SLOTRELAY', 'STATUSCLUSTER') + cmd('EXEC') + cmd('SLOTRELAY', 'STATUSCLUSTER') + cmd('MULTI'),
    );
    expect(h.toRedis()).toBe(cmd('MULTI') + cmd('EXEC') + cmd('MULTI'));
    h.redisSends('+OK\r\n*0\r\n+OK\r\n');
    expect(h.toClient()).toBe(
      '+OK\r\n-ERR SLOTRELAY commands cannot be used inside MULTI\r\n*0\r\n' + bulk(statusText(1)) + '+OK\r\n',
    );
  });

  it('work again after DISCARD and after RESET', async () => {
    const h = await adminHarness();
    h.clientSends(
      cmd('MULTI') +
        cmd('DISCARD') +
        cmd('GALLIUMDATA', 'SCANCLUSTER') +
        cmd('MULTI') +
        cmd('RESET') +
        cmd('GALLIUMDATA', 'SCANCLUSTER'),
    );
    h.redisSends('+OK\r\n+OK\r\n+OK\r\n+RESET\r\n');
    await h.settle();
    expect(h.toClient()).toBe(
      '+OK\r\n+OK\r\n+OK 4 nodes found in cluster\r\n+OK\r\n+RESET\r\n+OK 4 nodes found in cluster\r\n',
    );
  });
});
