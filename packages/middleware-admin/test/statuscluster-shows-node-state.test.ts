import { describe, expect, it } from 'vitest';
import { newListenerCounters, type TopologyService } from '@slotrelay/core/internal';
import { AdminMiddleware, formatStatusCluster } from '@slotrelay/middleware-admin';
import { sessionHarness } from '@slotrelay/testkit';
import { bulk, cmd, mapOf, recordingLogger, stubTopology } from './support/fixtures.js';

// Issue 15: STATUSCLUSTER showed a failed master as `master`. Each node's flags and link state follow
// its role, as CLUSTER NODES reports them; the Gallium-compatible start of the line is unchanged.
const FAILED = [
  'a000000000000000000000000000000000000001 127.100.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
  'b000000000000000000000000000000000000002 127.100.0.2:7001@17001 master,fail - 0 0 2 disconnected 5461-10922',
  'c000000000000000000000000000000000000003 127.100.0.3:7002@17002 master,fail? - 0 0 3 connected 10923-16383',
  'd000000000000000000000000000000000000004 127.100.0.4:7003@17003 slave,nofailover a000000000000000000000000000000000000001 0 0 1 connected',
  'e000000000000000000000000000000000000005 127.100.0.5:7004@17004 handshake - 0 0 0 disconnected',
  'f000000000000000000000000000000000000006 :7005@17005 master,noaddr - 0 0 4 disconnected',
].join('\n');

describe('GALLIUMDATA STATUSCLUSTER node state', () => {
  it('appends fail, fail?, other flags and a disconnected link after the role; lists nodes that take no proxy', () => {
    const text = formatStatusCluster(mapOf(FAILED), { scans: 2 });
    expect(text.split('\n').slice(1, -1)).toEqual([
      'Redis server 127.100.0.1:7000 is mapped to slotrelay proxy.test:6391 (node a000000000000000000000000000000000000001, master) <- this proxy',
      'Redis server 127.100.0.2:7001 is mapped to slotrelay fe80::99:6392 (node b000000000000000000000000000000000000002, master, fail, disconnected)',
      'Redis server 127.100.0.3:7002 is mapped to slotrelay proxy.test:6393 (node c000000000000000000000000000000000000003, master, fail?)',
      'Redis server 127.100.0.4:7003 is mapped to slotrelay proxy.test:6394 (node d000000000000000000000000000000000000004, replica, nofailover)',
      'Redis server 127.100.0.5:7004 is mapped to no slotrelay (node e000000000000000000000000000000000000005, unknown, handshake, disconnected)',
      'Redis server :7005 is mapped to no slotrelay (node f000000000000000000000000000000000000006, master, noaddr, disconnected)',
    ]);
  });

  it('counts admin commands by sub-command, unparsable ones as invalid', async () => {
    const counters = newListenerCounters();
    const { log } = recordingLogger();
    const topology = stubTopology({ current: mapOf(FAILED) });
    const mw = new AdminMiddleware(
      topology as unknown as TopologyService,
      { connections: [] },
      log,
      undefined,
      counters,
    );
    const h = await sessionHarness({ middleware: [mw] });
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'), cmd('SLOTRELAY', 'statuscluster'), cmd('GALLIUMDATA', 'NOPE'));
    await h.settle();
    expect(h.toClient()).toContain(bulk(formatStatusCluster(mapOf(FAILED), { scans: 1 })).slice(0, 20));
    expect([...counters.adminCommands]).toEqual([
      ['STATUSCLUSTER', 2],
      ['invalid', 1],
    ]);
  });
});
