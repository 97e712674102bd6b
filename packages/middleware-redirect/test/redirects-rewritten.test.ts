import { describe, expect, it } from 'vitest';
import {
  AddressMap,
  ReplyScanner,
  type Topology,
  type TopologyService,
  encodeCommand,
  parseClusterNodes,
  silentLogger,
} from '@slotrelay/core/internal';
import { chunkings, sessionHarness } from '@slotrelay/testkit';
import { RedirectMiddleware, parseRedirect } from '@slotrelay/middleware-redirect';

// Three masters: one IPv4, one IPv6, one announced by hostname (7.0+ `,hostname`).
const NODES = [
  'a000000000000000000000000000000000000001 127.100.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
  'b000000000000000000000000000000000000002 fe80::5:7001@17001 master - 0 0 2 connected 5461-10922',
  'c000000000000000000000000000000000000003 127.100.0.3:7002@17002,redis-3.svc master - 0 0 3 connected 10923-16383',
].join('\n');
const EXTRA = 'd000000000000000000000000000000000000004 127.100.0.4:7003@17003 master - 0 0 4 connected\n';

const members = [1, 2, 3, 4].map((i) => ({ host: 'proxy.test', port: 6390 + i }));
const mapOf = (text: string) =>
  new AddressMap({ mode: 'dynamic', members, instanceId: 1 }, {
    nodes: parseClusterNodes(text),
    source: { host: '127.100.0.1', port: 7000 },
    at: 0,
  } as Topology);

/** A TopologyService stand-in: `next` is what a rescan finds. */
function topology(initial: string, next = initial) {
  const t = {
    current: mapOf(initial),
    scans: 0,
    rescan: async () => {
      t.scans++;
      t.current = mapOf(next);
      return t.current;
    },
  };
  return t;
}

const table: Array<[string, string, string]> = [
  ['an IPv4 endpoint', '-MOVED 3999 127.100.0.1:7000\r\n', '-MOVED 3999 proxy.test:6391\r\n'],
  ['a bare IPv6 endpoint', '-ASK 6000 fe80::5:7001\r\n', '-ASK 6000 proxy.test:6392\r\n'],
  ['a hostname endpoint', '-MOVED 12000 redis-3.svc:7002\r\n', '-MOVED 12000 proxy.test:6393\r\n'],
  ['an IP of a node that also has a hostname', '-MOVED 12000 127.100.0.3:7002\r\n', '-MOVED 12000 proxy.test:6393\r\n'],
  ['a ? endpoint (hostname type, no hostname)', '-MOVED 6001 ?:7001\r\n', '-MOVED 6001 proxy.test:6392\r\n'],
  ['an empty endpoint (unknown-endpoint: same host as asked)', '-MOVED 2 :7000\r\n', '-MOVED 2 proxy.test:6391\r\n'],
  [
    'a redirect inside an EXEC array',
    '*2\r\n+OK\r\n-MOVED 12000 127.100.0.3:7002\r\n',
    '*2\r\n+OK\r\n-MOVED 12000 proxy.test:6393\r\n',
  ],
  [
    'a redirect nested two levels deep',
    '*1\r\n*2\r\n:1\r\n-ASK 5 127.100.0.1:7000\r\n',
    '*1\r\n*2\r\n:1\r\n-ASK 5 proxy.test:6391\r\n',
  ],
  ['an error that is not a redirect', '-ERR wrong number of arguments\r\n', '-ERR wrong number of arguments\r\n'],
  ['a slot out of range (not a redirect)', '-MOVED 16384 127.100.0.1:7000\r\n', '-MOVED 16384 127.100.0.1:7000\r\n'],
  [
    'CROSSSLOT',
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n",
  ],
];

describe('redirect rewriting', () => {
  for (const [what, input, expected] of table) {
    it(`rewrites ${what}, whole, byte by byte and split at every boundary`, async () => {
      // Two pipelined replies, the redirect second, so the split also cuts between frames.
      const bytes = Buffer.from('+OK\r\n' + input, 'latin1');
      for (const { label, chunks } of chunkings(bytes)) {
        const t = topology(NODES);
        const h = await sessionHarness({
          middleware: [new RedirectMiddleware(t as unknown as TopologyService, silentLogger)],
        });
        h.clientSends(encodeCommand(['SET', 'a', '1']), encodeCommand(['GET', 'k']));
        h.redisSends(...chunks);
        expect(h.toClient(), label).toBe('+OK\r\n' + expected);
        expect(t.scans, label).toBe(0);
      }
    });
  }

  it('rescans when the target is unknown, then rewrites, keeping later replies in order', async () => {
    const t = topology(NODES, NODES + '\n' + EXTRA);
    const h = await sessionHarness({
      middleware: [new RedirectMiddleware(t as unknown as TopologyService, silentLogger)],
    });
    h.clientSends(encodeCommand(['GET', 'x']), encodeCommand(['GET', 'y']));
    h.redisSends('-MOVED 100 127.100.0.4:7003\r\n$1\r\nv\r\n');
    await h.settle();
    expect(t.scans).toBe(1);
    expect(h.toClient()).toBe('-MOVED 100 proxy.test:6394\r\n$1\r\nv\r\n');
  });

  it('answers CLUSTERDOWN (no Redis address) when a rescan does not find the node either', async () => {
    const t = topology(NODES);
    const h = await sessionHarness({
      middleware: [new RedirectMiddleware(t as unknown as TopologyService, silentLogger)],
    });
    h.clientSends(encodeCommand(['GET', 'x']));
    h.redisSends('-ASK 100 127.109.9.9:7100\r\n');
    await h.settle();
    expect(h.toClient()).toMatch(
      /^-CLUSTERDOWN Hash slot 100 is served by a Redis node no slotrelay proxy is mapped to/,
    );
    expect(h.toClient()).not.toContain('127.109.9.9');
    const s = new ReplyScanner();
    s.feed(h.client.written());
    expect(s.count).toBe(1);
  });
});

describe('parseRedirect', () => {
  it('splits at the last colon', () =>
    expect(parseRedirect('MOVED 1 ::1:7000')).toEqual({ kind: 'MOVED', slot: 1, host: '::1', port: 7000 }));
  it('accepts an empty host', () =>
    expect(parseRedirect('ASK 2 :7000')).toEqual({ kind: 'ASK', slot: 2, host: '', port: 7000 }));
  it('rejects a bad slot', () => expect(parseRedirect('MOVED x 1.2.3.4:5')).toBeUndefined());
  it('rejects a missing port', () => expect(parseRedirect('MOVED 1 1.2.3.4')).toBeUndefined());
});

describe('stale slot map', () => {
  it('rescans when a MOVED names a node the map does not list as the slot owner, at most once a second', async () => {
    const t = topology(NODES);
    const h = await sessionHarness({
      middleware: [new RedirectMiddleware(t as unknown as TopologyService, silentLogger)],
    });
    // Slot 1 belongs to 127.100.0.1:7000 in the map: a MOVED there is not news.
    h.clientSends(encodeCommand(['GET', 'a']));
    h.redisSends('-MOVED 1 127.100.0.1:7000\r\n');
    await h.settle();
    expect(t.scans).toBe(0);
    // Slot 2 moved to 127.100.0.3 since the last scan: rescan, but only once for a burst.
    h.clientSends(encodeCommand(['GET', 'b']), encodeCommand(['GET', 'c']));
    h.redisSends('-MOVED 2 127.100.0.3:7002\r\n-MOVED 2 127.100.0.3:7002\r\n');
    await h.settle();
    expect(t.scans).toBe(1);
    expect(h.toClient()).toBe('-MOVED 1 proxy.test:6391\r\n-MOVED 2 proxy.test:6393\r\n-MOVED 2 proxy.test:6393\r\n');
  });
});
