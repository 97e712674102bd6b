import { describe, expect, it } from 'vitest';
import { encodeCommand, encodeReply, node, parseClusterNodes } from '@slotrelay/core/internal';
import { chunkings, sessionHarness } from '@slotrelay/testkit';
import {
  ClusterCmdsMiddleware,
  RewriteLog,
  mapResolver,
  rewriteClusterNodeLine,
  rewriteClusterNodes,
  rewriteClusterReplicas,
} from '@slotrelay/middleware-cluster-cmds';
import { expectOneFrame } from './support/addresses.js';
import {
  type ProxyStyle,
  asService,
  fixture,
  listenerInfo,
  mapFor,
  outputReader,
  stubTopology,
} from './support/fixtures.js';

const id = (c: string) => c.repeat(40 / c.length);
const mixed = fixture('handwritten/cluster-nodes-mixed.txt').toString('latin1');
const known = parseClusterNodes(fixture('handwritten/cluster-nodes-mixed.topology.txt').toString('latin1'));
const resolverFor = (style: ProxyStyle, strict = true) =>
  mapResolver(mapFor(known, { style, askedId: id('a') }), { strict });

/** The lines of a rewritten text, by node ID. */
const byId = (text: string) =>
  new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, 40), l.slice(41)]),
  );

describe('CLUSTER NODES lines (hand-written cases)', () => {
  it('IPv6, IPv4 and hostname addresses become proxy addresses; bus ports, flags, epochs, slots and markers stay', () => {
    const r = rewriteClusterNodes(mixed, resolverFor('ipv4'));
    const out = byId(r.value);
    expect(out.get(id('a'))).toBe(
      `127.199.0.1:6391@17000 myself,master - 0 0 1 connected 0-5460 [100->-${id('b')}] [200-<-${id('c')}]`,
    );
    expect(out.get(id('b'))).toBe('127.199.0.1:6392@17001 master - 0 1700000000001 2 connected 5461-10922');
    // The proxy host is an IP: no hostname field (Redis announces names there, never IPs).
    expect(out.get(id('c'))).toBe('127.199.0.1:6393@17002 master - 0 1700000000002 3 connected 10923-16383');
    expect(out.get(id('d'))).toBe(
      `127.199.0.1:6394@17003 slave,fail ${id('a')} 1700000000003 1700000000003 1 disconnected`,
    );
    // The noaddr node e takes no proxy (AddressMap skips noaddr/handshake nodes), so f gets the fifth.
    expect(out.get(id('f'))).toBe(
      '127.199.0.1:6395@17005 master,fail?,nofailover - 1700000000005 1700000000005 0 connected',
    );
    expect(r.value.endsWith('\n')).toBe(true);
    expect(r.value.split('\n').length).toBe(mixed.split('\n').length);
  });

  it('keeps :0@0 noaddr entries exactly as Redis wrote them', () => {
    const r = rewriteClusterNodes(mixed, resolverFor('ipv4'));
    expect(byId(r.value).get(id('e'))).toBe(`:0@0 slave,noaddr ${id('b')} 1700000000004 1700000000004 2 disconnected`);
  });

  it('a handshake node (temporary ID, unknown to the map) is hidden as :0@0 without asking for a rescan', () => {
    const r = rewriteClusterNodes(mixed, resolverFor('ipv4'));
    expect(byId(r.value).get(id('0a'))).toBe(':0@0 handshake - 0 0 0 connected');
    expect(r.unknown).toEqual([]);
  });

  it('DNS proxy names are written as the address and as the hostname field', () => {
    const out = byId(rewriteClusterNodes(mixed, resolverFor('dns')).value);
    expect(out.get(id('c'))!.split(' ')[0]).toBe('proxy-3.slotrelay.test:6393@17002,proxy-3.slotrelay.test');
    expect(out.get(id('a'))!.split(' ')[0]).toBe('proxy-1.slotrelay.test:6391@17000,proxy-1.slotrelay.test');
  });

  it('IPv6 proxies are written bare, as Redis writes IPv6, and parse back at the last colon', () => {
    const text = rewriteClusterNodes(mixed, resolverFor('ipv6')).value;
    expect(byId(text).get(id('b'))!.split(' ')[0]).toBe('fd00:99::a1:6392@17001');
    const parsed = parseClusterNodes(text).find((n) => n.id === id('b'))!;
    expect([parsed.ip, parsed.port, parsed.cport]).toEqual(['fd00:99::a1', 6392, 17001]);
  });

  it('a node the map does not know becomes :0@0 with its flags kept, and is reported', () => {
    const partial = mapFor(
      known.filter((n) => n.id !== id('d')),
      { askedId: id('a') },
    );
    const r = rewriteClusterNodes(mixed, mapResolver(partial, { strict: true }));
    expect(byId(r.value).get(id('d'))).toBe(`:0@0 slave,fail ${id('a')} 1700000000003 1700000000003 1 disconnected`);
    expect(r.unknown).toEqual([{ id: id('d'), host: '127.100.0.4', port: 7003 }]);
    expect(r.value).not.toContain('127.100.0.4');
  });

  it("a fresh node's myself line without an IP (`:7007@17007`) gets its proxy", () => {
    const text = fixture('handwritten/cluster-nodes-fresh-myself.txt').toString('latin1');
    const nodes = parseClusterNodes(text);
    const r = rewriteClusterNodes(text, mapResolver(mapFor(nodes), { strict: true }));
    expect(r.value).toBe(`${id('9')} 127.199.0.1:6391@17007 myself,master - 0 0 0 connected\n`);
  });

  it('a line it cannot read is dropped (it could carry an address) and reported', () => {
    const log = new RewriteLog();
    expect(rewriteClusterNodeLine('garbage', resolverFor('ipv4'), log)).toBeNull();
    expect(log.unknown.length).toBe(1);
  });

  it('REPLICAS / SLAVES: every element is rewritten, not only the first', () => {
    const lines = mixed.split('\n').filter((l) => l.includes(' slave'));
    const reply = node.array(lines.map((l) => node.bulk(l)));
    const r = rewriteClusterReplicas(reply, resolverFor('ipv4'));
    const out = r.value.items!.map((i) => i.data!.toString('latin1'));
    expect(out).toEqual([
      `${id('d')} 127.199.0.1:6394@17003 slave,fail ${id('a')} 1700000000003 1700000000003 1 disconnected`,
      `${id('e')} :0@0 slave,noaddr ${id('b')} 1700000000004 1700000000004 2 disconnected`,
    ]);
  });

  for (const protocol of [2, 3] as const) {
    it(`through a session in RESP${protocol}: one ${protocol === 2 ? 'bulk' : 'verbatim'} frame at every split, no Redis address left`, async () => {
      const input = encodeReply(node.verbatim(mixed, protocol));
      const stub = stubTopology(mapFor(known, { askedId: id('a') }));
      const h = await sessionHarness({ middleware: [new ClusterCmdsMiddleware(asService(stub), listenerInfo())] });
      if (protocol === 3) {
        h.clientSends(encodeCommand(['HELLO', '3']));
        h.redisSends('%1\r\n$5\r\nproto\r\n:3\r\n');
      }
      const next = outputReader(h.client);
      const expected = encodeReply(node.verbatim(rewriteClusterNodes(mixed, resolverFor('ipv4')).value, protocol));
      for (const { label, chunks } of chunkings(input)) {
        h.clientSends(encodeCommand(['cluster', 'nodes']));
        h.redisSends(...chunks);
        const out = next();
        expectOneFrame(out, input[0]!, label);
        expect(out.toString('latin1'), label).toBe(expected.toString('latin1'));
        for (const leak of ['::1:', '10.0.0.', 'redis-3.svc', '@17000,'])
          expect(out.includes(leak), `${label}: ${leak}`).toBe(false);
      }
      expect(stub.scans).toBe(0); // the handshake node does not trigger rescans
    });
  }
});
