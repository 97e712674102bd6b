import { describe, expect, it } from 'vitest';
import {
  AddressMap,
  type Topology,
  type TopologyService,
  encodeCommand,
  newListenerCounters,
  parseClusterNodes,
  silentLogger,
} from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';
import { RedirectMiddleware } from '@slotrelay/middleware-redirect';

const NODES = [
  'a000000000000000000000000000000000000001 127.100.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191',
  'b000000000000000000000000000000000000002 127.100.0.2:7001@17001 master - 0 0 2 connected 8192-16383',
].join('\n');
const members = [1, 2].map((i) => ({ host: 'proxy.test', port: 6390 + i }));
const current = new AddressMap({ mode: 'dynamic', members, instanceId: 1 }, {
  nodes: parseClusterNodes(NODES),
  source: { host: '127.100.0.1', port: 7000 },
  at: 0,
} as Topology);
const topology = { current, rescan: async () => current } as unknown as TopologyService;

// Issue 15: slotrelay_redirects_rewritten_total{kind} reads these integers at scrape time.
describe('redirects counted for the metrics', () => {
  it('counts each MOVED and ASK rewritten, nested ones included, and nothing else', async () => {
    const counters = newListenerCounters();
    const h = await sessionHarness({ middleware: [new RedirectMiddleware(topology, silentLogger, counters)] });
    h.clientSends(...['a', 'b', 'c', 'd', 'e'].map((k) => encodeCommand(['GET', k])));
    h.redisSends(
      '-MOVED 9000 127.100.0.2:7001\r\n',
      '-ASK 9001 127.100.0.2:7001\r\n',
      '*2\r\n-MOVED 1 127.100.0.1:7000\r\n-ASK 2 127.100.0.1:7000\r\n',
      '-ERR not a redirect\r\n',
      '$1\r\nv\r\n',
    );
    await h.settle();
    expect(h.toClient()).toContain('-MOVED 9000 proxy.test:6392\r\n');
    expect(counters.redirectsRewritten).toEqual({ moved: 2, ask: 2 });
  });

  it('runs without counters (a host that binds none)', async () => {
    const h = await sessionHarness({ middleware: [new RedirectMiddleware(topology, silentLogger)] });
    h.clientSends(encodeCommand(['GET', 'a']));
    h.redisSends('-MOVED 9000 127.100.0.2:7001\r\n');
    expect(h.toClient()).toBe('-MOVED 9000 proxy.test:6392\r\n');
  });
});
