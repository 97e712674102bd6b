import { describe, expect, it } from 'vitest';
import { HELLO3_REPLY, adminHarness, cmd, stubControl } from './support/fixtures.js';

// Redis's RESET clears the connection's AUTH; GALLIUMDATA AUTH follows it. RESET itself still goes
// to Redis and its reply passes untouched.

const PASSWORD = 'correct horse battery staple';
const PATCH = JSON.stringify([{ op: 'replace', path: '/log/level', value: 'debug' }]);
const REFUSED = '-ERR admin writes need GALLIUMDATA AUTH first\r\n';

describe('RESET clears GALLIUMDATA AUTH', () => {
  it('a client that did AUTH, then RESET, is refused admin writes; RESET reaches Redis and its reply passes', async () => {
    const control = stubControl();
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('RESET'));
    expect(h.toRedis()).toBe(cmd('RESET'));
    h.redisSends('+RESET\r\n');
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    await h.settle();
    expect(h.toClient()).toBe(`+OK\r\n+RESET\r\n${REFUSED}`);
    expect(control.patches).toEqual([]);
    expect(h.logLines).toContainEqual({
      level: 'info',
      msg: 'admin AUTH cleared by RESET',
      obj: expect.objectContaining({ client: '127.0.0.1:40000' }),
    });
  });

  it('takes effect at its place in a pipeline: a write before RESET is authenticated, one after it is not', async () => {
    const control = stubControl();
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(
      cmd('GALLIUMDATA', 'AUTH', PASSWORD) +
        cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH) +
        cmd('RESET') +
        cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH),
    );
    h.redisSends('+RESET\r\n');
    await h.settle();
    expect(h.toClient()).toBe(`+OK\r\n+OK log.level: info -> debug\r\n+RESET\r\n${REFUSED}`);
    expect(control.patches).toHaveLength(1);
  });

  it('also clears admin reads when adminReadsRequireAuth; AUTH again works', async () => {
    const h = await adminHarness({ config: { connections: [], adminPassword: PASSWORD, adminReadsRequireAuth: true } });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('RESET'));
    h.redisSends('+RESET\r\n');
    h.clientSends(cmd('GALLIUMDATA', 'HELP'), cmd('GALLIUMDATA', 'AUTH', PASSWORD));
    expect(h.toClient()).toBe('+OK\r\n+RESET\r\n-ERR admin reads need GALLIUMDATA AUTH first\r\n+OK\r\n');
  });

  it('HELLO (without AUTH) leaves it, as it leaves Redis AUTH', async () => {
    const control = stubControl();
    const h = await adminHarness({ control, config: { connections: [], adminPassword: PASSWORD } });
    h.clientSends(cmd('GALLIUMDATA', 'AUTH', PASSWORD), cmd('HELLO', '3'));
    h.redisSends(HELLO3_REPLY);
    h.clientSends(cmd('GALLIUMDATA', 'CONFIG', 'PATCH', PATCH));
    await h.settle();
    expect(h.toClient()).toBe(`+OK\r\n${HELLO3_REPLY}+OK log.level: info -> debug\r\n`);
  });
});
