import { describe, expect, it } from 'vitest';
import { checkAdminPassword } from '@slotrelay/middleware-admin';
import { adminHarness, bulk, cmd, statusText, stubControl, verbatim, HELLO3_REPLY } from './support/fixtures.js';

const PASSWORD = 'correct horse battery staple';
const PATCH = JSON.stringify([{ op: 'replace', path: '/log/level', value: 'debug' }]);

describe('GALLIUMDATA AUTH', () => {
  it('answers +OK for the right password and -ERR for a wrong one', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', 'nope'), cmd('GALLIUMDATA', 'AUTH', PASSWORD));
    expect(h.toClient()).toBe('-ERR invalid admin password\r\n+OK\r\n');
    expect(h.toRedis()).toBe('');
  });

  it('is refused when no adminPassword is configured', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', 'anything'));
    expect(h.toClient()).toBe('-ERR GALLIUMDATA AUTH called without any adminPassword configured\r\n');
  });

  it('compares in constant time over digests (any length, any bytes)', () => {
    expect(checkAdminPassword('a', 'a')).toBe(true);
    expect(checkAdminPassword('a', 'a'.repeat(1000))).toBe(false);
    expect(checkAdminPassword(Buffer.from('pässword'), 'pässword')).toBe(true);
  });
});

describe('GALLIUMDATA CONFIG PATCH', () => {
  it('is refused when adminPassword is not set', async () => {
    const control = stubControl();
    const h = await adminHarness({ control });
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    expect(h.toClient()).toBe('-ERR admin writes are disabled: set adminPassword in the config\r\n');
    expect(control.patches).toEqual([]);
  });

  it('is refused without AUTH, and after a failed AUTH', async () => {
    const control = stubControl();
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(
      cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH),
      cmd('SLOTRELAY', 'AUTH', 'wrong'),
      cmd('SLOTRELAY', 'CONFIG', 'PATCH', PATCH),
    );
    expect(h.toClient()).toBe(
      '-ERR admin writes need GALLIUMDATA AUTH first\r\n-ERR invalid admin password\r\n-ERR admin writes need SLOTRELAY AUTH first\r\n',
    );
    expect(control.patches).toEqual([]);
  });

  it('is applied after AUTH: +OK <summary>, ops passed to FleetControl.patch', async () => {
    const control = stubControl({ summary: 'log.level: info -> debug' });
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    await h.settle();
    expect(h.toClient()).toBe('+OK\r\n+OK log.level: info -> debug\r\n');
    expect(control.patches).toEqual([[{ op: 'replace', path: '/log/level', value: 'debug' }]]);
    expect(h.toRedis()).toBe('');
  });

  it('accepts the patch quoted in the inline form', async () => {
    const control = stubControl();
    const h = await adminHarness({ control, config: { connections: [], adminPassword: 'pw' } });
    h.clientSends(`galliumdata auth pw\r\ngalliumdata config patch '${PATCH}'\r\n`);
    await h.settle();
    expect(h.toClient()).toBe('+OK\r\n+OK log.level: info -> debug\r\n');
    expect(control.patches).toEqual([JSON.parse(PATCH)]);
  });

  it('answers the reason on one line when the host rejects the patch', async () => {
    const control = stubControl({ fail: 'config: connections[0].localPort should be 1-65535,\ninstead got 0' });
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(
      cmd('GALLIUMDATA', 'AUTH', PASSWORD),
      cmd('GALLIUMDATA', 'CONFIG', 'PATCH', '[{"op":"replace","path":"/connections/0/localPort","value":0}]'),
    );
    await h.settle();
    expect(h.toClient()).toBe('+OK\r\n-ERR config: connections[0].localPort should be 1-65535, instead got 0\r\n');
  });

  const malformed: Array<[string, string, string]> = [
    ['JSON that does not parse', '[{"op":', 'ERR CONFIG PATCH: invalid JSON: '],
    [
      'an object instead of an array',
      '{"op":"add"}',
      'ERR CONFIG PATCH wants a JSON array of RFC 6902 operations, instead got an object',
    ],
    ['an empty patch', '[]', 'ERR CONFIG PATCH: the patch has no operations'],
    [
      'an op that is not an object',
      '[1]',
      'ERR CONFIG PATCH: operation #0 is invalid: Operation is not an object (OPERATION_NOT_AN_OBJECT)',
    ],
    [
      'an unknown op',
      '[{"op":"replace","path":"/a","value":1},{"op":"merge","path":"/a"}]',
      "ERR CONFIG PATCH: operation #1: op should be one of add, remove, replace, move, copy, test, instead got 'merge'",
    ],
    [
      "fast-json-patch's internal _get op",
      '[{"op":"_get","path":"/a"}]',
      "ERR CONFIG PATCH: operation #0: op should be one of add, remove, replace, move, copy, test, instead got '_get'",
    ],
    [
      'a path without leading slash',
      '[{"op":"remove","path":"log"}]',
      'ERR CONFIG PATCH: operation #0 is invalid: Operation `path` property must start with "/" (OPERATION_PATH_INVALID)',
    ],
    [
      'a replace without value',
      '[{"op":"replace","path":"/log/level"}]',
      'ERR CONFIG PATCH: operation #0 is invalid: Operation `value` property is not present (applicable in `add`, `replace` and `test` operations) (OPERATION_VALUE_REQUIRED)',
    ],
    [
      'a prototype path',
      '[{"op":"add","path":"/__proto__/polluted","value":1}]',
      "ERR CONFIG PATCH: operation #0: path segment '__proto__' is not allowed",
    ],
    [
      'a copy out of a secret',
      '[{"op":"copy","from":"/adminPassword","path":"/connections/0/name"}]',
      "ERR CONFIG PATCH: operation #0: 'copy' cannot read the secret field 'adminPassword'",
    ],
    [
      'a test on a secret',
      '[{"op":"test","path":"/connections/0/redisPassword","value":"guess"}]',
      "ERR CONFIG PATCH: operation #0: 'test' cannot read the secret field 'redisPassword'",
    ],
  ];
  for (const [what, json, error] of malformed) {
    it(`answers a precise error for ${what}, and does not call the host`, async () => {
      const control = stubControl();
      const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
      h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('GALLIUMDATA', 'CONFIG', 'PATCH', json));
      const reply = h.toClient();
      expect(reply.startsWith(`+OK\r\n-${error}`)).toBe(true);
      expect(reply.endsWith('\r\n')).toBe(true);
      expect(reply.split('\r\n').length).toBe(3);
      expect(control.patches).toEqual([]);
    });
  }

  it('answers -ERR when FleetControl is not bound', async () => {
    const h = await adminHarness({ control: null, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(
      cmd('GALLIUMDATA', 'AUTH', PASSWORD),
      cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH),
      cmd('GALLIUMDATA', 'CONFIG', 'GET'),
    );
    expect(h.toClient()).toBe(
      '+OK\r\n-ERR CONFIG is not available in this process\r\n-ERR CONFIG is not available in this process\r\n',
    );
  });

  it('logs who wrote what at info level, never a password', async () => {
    const control = stubControl();
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    const secretPatch = JSON.stringify([{ op: 'replace', path: '/adminPassword', value: 'n3w-s3cret' }]);
    h.clientSends(
      cmd('GALLIUMDATA', 'AUTH', 'a-wrong-guess'),
      cmd('GALLIUMDATA', 'AUTH', PASSWORD),
      cmd('GALLIUMDATA', 'CONFIG', 'PATCH', secretPatch),
    );
    await h.settle();
    const write = h.logLines.find((l) => l.msg === 'admin write');
    expect(write?.level).toBe('info');
    expect(write?.obj).toMatchObject({
      client: '127.0.0.1:40000',
      command: 'CONFIG PATCH',
      ops: [{ op: 'replace', path: '/adminPassword', value: '********' }],
    });
    expect(h.logLines.find((l) => l.msg === 'admin write applied')?.level).toBe('info');
    const all = JSON.stringify(h.logLines);
    for (const secret of [PASSWORD, 'n3w-s3cret', 'a-wrong-guess']) expect(all).not.toContain(secret);
  });

  it('does not log the input quoted in a JSON error (it may be a password)', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('GALLIUMDATA', 'CONFIG', 'PATCH', 'hunter2'));
    expect(h.toClient()).toContain('-ERR CONFIG PATCH: invalid JSON: '); // the client may see its own input
    expect(h.logLines.find((l) => l.msg === 'admin write refused')?.obj).toMatchObject({
      reason: 'ERR CONFIG PATCH: invalid JSON',
    });
    expect(JSON.stringify(h.logLines)).not.toContain('hunter2');
  });

  it('logs refused writes too', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    expect(h.logLines).toContainEqual({
      level: 'warn',
      msg: 'admin write refused',
      obj: expect.objectContaining({
        client: '127.0.0.1:40000',
        command: 'CONFIG PATCH',
        reason: 'ERR admin writes need GALLIUMDATA AUTH first',
      }),
    });
  });

  it('keeps AUTH per session and drops it when adminPassword changes', async () => {
    const control = stubControl();
    const config = { connections: [], adminPassword: PASSWORD };
    const h = await adminHarness({ control, config });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD));
    // A second session on the same middleware instance is not authenticated by the first.
    const { sessionHarness } = await import('@slotrelay/testkit');
    const other = await sessionHarness({ middleware: [h.mw] });
    other.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    expect(other.toClient()).toBe('-ERR admin writes need GALLIUMDATA AUTH first\r\n');
    config.adminPassword = 'rotated';
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    expect(h.toClient()).toBe('+OK\r\n-ERR admin writes need GALLIUMDATA AUTH first\r\n');
    expect(control.patches).toEqual([]);
  });
});

describe('GALLIUMDATA CONFIG GET', () => {
  it('answers the running config as JSON with secrets masked, even if the host forgot to', async () => {
    const leaky = {
      connections: [{ name: 'orders', redisPassword: 'redis-secret' }],
      adminPassword: 'admin-secret',
      log: { level: 'info' as const },
    } as never;
    const h = await adminHarness({ control: stubControl({ config: leaky }) });
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'GET'));
    const json = JSON.stringify(
      {
        connections: [{ name: 'orders', redisPassword: '********' }],
        adminPassword: '********',
        log: { level: 'info' },
      },
      null,
      2,
    );
    expect(h.toClient()).toBe(bulk(json));
  });

  it('answers a verbatim string in RESP3', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('HELLO', '3'));
    h.redisSends(HELLO3_REPLY);
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'GET'));
    expect(h.toClient()).toBe(
      HELLO3_REPLY + verbatim(JSON.stringify({ connections: [], adminPassword: '********' }, null, 2)),
    );
  });
});

describe('adminReadsRequireAuth', () => {
  it('makes reads need AUTH too', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD, adminReadsRequireAuth: true } });
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'), cmd('GALLIUMDATA', 'CONFIG', 'GET'), cmd('GALLIUMDATA', 'HELP'));
    expect(h.toClient()).toBe('-ERR admin reads need GALLIUMDATA AUTH first\r\n'.repeat(3));
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient().endsWith('+OK\r\n' + bulk(statusText(1)))).toBe(true);
    expect(h.topology.reasons).toEqual([]);
  });

  it('says why reads are impossible when no adminPassword is set', async () => {
    const h = await adminHarness({ config: { connections: [], adminReadsRequireAuth: true } });
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient()).toBe(
      '-ERR admin reads are disabled: adminReadsRequireAuth is set but adminPassword is not\r\n',
    );
  });

  it('leaves reads open when not set', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient()).toBe(bulk(statusText(1)));
  });
});
