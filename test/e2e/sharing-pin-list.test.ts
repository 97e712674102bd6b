import { describe, expect, it } from 'vitest';
import { decodeReply, pinsByName, toPlain } from '@slotrelay/core/internal';
import { sharedCluster } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';

// Issue 16: the pin list is a hand list (Redis's flags do not mark connection state), but every
// command Redis flags `blocking` must pin — a blocked shared connection would stall every session
// on it. WAIT is the one exception, on purpose (it must see the writes of the connection that
// carried them; ARCHITECTURE.md "Pinning"). XREAD/XREADGROUP pin only with BLOCK (checked by name here).
describe('the pin list against COMMAND INFO of the Redis under test', () => {
  it('every command flagged blocking pins (WAIT aside; XREAD/XREADGROUP when they BLOCK)', async () => {
    const node = sharedCluster().nodes[0]!;
    const c = await RawClient.connect(node.port);
    c.send('COMMAND\r\n');
    const raw = await c.frame(10_000);
    c.close();
    const commands = toPlain(decodeReply(raw, 0, raw.length)) as unknown[][];
    const blocking = commands
      .filter((cmd) => (cmd[2] as string[]).includes('blocking'))
      .map((cmd) => String(cmd[0]).toUpperCase())
      .sort();
    expect(blocking.length).toBeGreaterThan(5);
    const conditional = new Set(['XREAD', 'XREADGROUP', 'WAIT']);
    const missing = blocking.filter((name) => !conditional.has(name) && !pinsByName(name));
    expect(missing).toEqual([]);
    expect(pinsByName('WAIT')).toBe(false);
    expect(pinsByName('GET')).toBe(false);
  });
});
