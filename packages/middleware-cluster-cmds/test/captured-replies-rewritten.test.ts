import { describe, expect, it } from 'vitest';
import { RespType, decodeReply, encodeCommand, parseClusterNodes } from '@slotrelay/core/internal';
import { chunkings, sessionHarness } from '@slotrelay/testkit';
import { ClusterCmdsMiddleware, type ReplyKind, replyKindOf } from '@slotrelay/middleware-cluster-cmds';
import { expectNoRedisHostText, expectOneFrame, expectOnlyProxies, extract } from './support/addresses.js';
import {
  type FixtureEntry,
  type ProxyStyle,
  asService,
  fixture,
  listenerInfo,
  manifest,
  mapFor,
  outputReader,
  proxyAddress,
  stubTopology,
  topologyOf,
} from './support/fixtures.js';

const HELLO3_REPLY = '%1\r\n$5\r\nproto\r\n:3\r\n';

/** Proxy hosts and ports of a map built with `mapFor(…, { style })`. */
function proxiesOf(style: ProxyStyle, n: number) {
  const all = Array.from({ length: n + 2 }, (_, i) => proxyAddress(style, i));
  return { hosts: new Set(all.map((a) => a.host)), ports: new Set(all.map((a) => a.port)) };
}

/** A session with the middleware in front of the node that answered `entry`, in the entry's protocol. */
async function sessionFor(entry: FixtureEntry, style: ProxyStyle, tls = false) {
  const nodes = topologyOf(entry.set);
  const stub = stubTopology(mapFor(nodes, { style, askedId: entry.askedId }));
  const h = await sessionHarness({ middleware: [new ClusterCmdsMiddleware(asService(stub), listenerInfo(tls))] });
  if (entry.protocol === 3) {
    h.clientSends(encodeCommand(['HELLO', '3']));
    h.redisSends(HELLO3_REPLY);
    expect(h.session.protocol).toBe(3);
  }
  const next = outputReader(h.client);
  /** Sends the entry's command(s), Redis answers with `chunks`; returns what the client got. */
  const roundTrip = (chunks: Buffer[]): Buffer => {
    for (const c of entry.commands) h.clientSends(encodeCommand(c));
    h.redisSends(...chunks);
    return next();
  };
  return { h, stub, nodes, roundTrip };
}

const single = manifest.entries.filter(
  (e) => e.commands.length === 1 && replyKindOf(e.commands[0]!.map((a) => Buffer.from(a))) !== null,
);
const styleOf = (e: FixtureEntry): ProxyStyle => (e.set === 'ipv6' ? 'ipv6' : e.set === 'hostname' ? 'dns' : 'ipv4');

describe('captured replies are rewritten to name only proxies', () => {
  it('the fixtures cover every reply kind in RESP2 and RESP3 for every capture set', () => {
    const kinds = new Set(
      single.map((e) => `${e.set} ${e.protocol} ${replyKindOf(e.commands[0]!.map((a) => Buffer.from(a)))}`),
    );
    for (const set of ['ip', 'hostname', 'unknown-endpoint', 'ipv6']) {
      for (const p of [2, 3])
        for (const k of ['nodes', 'slots', 'shards', 'replicas', 'info', 'role'])
          expect(kinds.has(`${set} ${p} ${k}`), `${set} ${p} ${k}`).toBe(true);
    }
    expect(manifest.entries.some((e) => e.set === 'migrating')).toBe(true);
  });

  for (const entry of single) {
    const kind = replyKindOf(entry.commands[0]!.map((a) => Buffer.from(a))) as ReplyKind;
    const style = styleOf(entry);
    it(`${entry.file} (${entry.commands[0]!.join(' ')}, ${style} proxies): whole, byte by byte and split at every boundary`, async () => {
      const input = fixture(entry.file);
      const { nodes, stub, roundTrip } = await sessionFor(entry, style);
      const proxies = proxiesOf(style, nodes.length);
      let first: Buffer | null = null;
      for (const { label, chunks } of chunkings(input)) {
        const out = roundTrip(chunks);
        if (first === null) {
          first = Buffer.from(out);
          const node = expectOneFrame(out, input[0]!, label);
          const after = extract(kind, node);
          const before = extract(kind, decodeReply(input));
          expect(after.ids, 'node IDs are kept, in order').toEqual(before.ids);
          expect(after.addresses.length).toBeGreaterThan(0);
          expectOnlyProxies(after, proxies, nodes, label);
          expectNoRedisHostText(out, nodes, label);
        } else {
          expect(out.equals(first), label).toBe(true);
        }
      }
      expect(stub.scans).toBe(0);
    });
  }

  it('CLUSTER NODES: every line gets the proxy of its node ID, the bus port stays, hostnames only for DNS proxies', async () => {
    for (const style of ['ipv4', 'dns'] as const) {
      const entry = single.find(
        (e) => e.set === 'hostname' && e.protocol === 2 && e.file.endsWith('/cluster-nodes.resp'),
      )!;
      const { roundTrip } = await sessionFor(entry, style);
      const before = parseClusterNodes(decodeReply(fixture(entry.file)).data!.toString('latin1'));
      const map = mapFor(before, { style, askedId: entry.askedId });
      const after = parseClusterNodes(decodeReply(roundTrip([fixture(entry.file)])).data!.toString('latin1'));
      for (const [i, n] of after.entries()) {
        const proxy = map.proxyFor(n.id)!;
        expect([n.ip, n.port, n.cport]).toEqual([proxy.host, proxy.port, before[i]!.cport]);
        expect(n.hostname).toBe(style === 'dns' ? proxy.host : '');
        expect(n.flags).toEqual(before[i]!.flags);
        expect(n.slots).toEqual(before[i]!.slots);
      }
    }
  });

  it('CLUSTER NODES keeps migrating and importing markers (captured mid-migration)', async () => {
    for (const entry of manifest.entries.filter((e) => e.set === 'migrating')) {
      const { nodes, roundTrip } = await sessionFor(entry, 'ipv4');
      const input = fixture(entry.file);
      const out = roundTrip([input]);
      const text = expectOneFrame(out, input[0]!, entry.file).data!.toString('latin1');
      const marker = /\[100-[<>]-[0-9a-f]{40}\]/.exec(decodeReply(input).data!.toString('latin1'))![0];
      expect(text).toContain(marker);
      expectOnlyProxies(extract('nodes', decodeReply(out)), proxiesOf('ipv4', nodes.length), nodes, entry.file);
    }
  });

  it('CLUSTER SLOTS: NULL endpoints (unknown-endpoint) become the proxy host, `$-1` and `_` alike', async () => {
    for (const protocol of [2, 3]) {
      const entry = single.find(
        (e) => e.set === 'unknown-endpoint' && e.protocol === protocol && e.file.endsWith('/cluster-slots.resp'),
      )!;
      const input = fixture(entry.file);
      expect(input.includes(protocol === 2 ? '$-1\r\n' : '_\r\n')).toBe(true);
      const { roundTrip } = await sessionFor(entry, 'ipv4');
      const out = roundTrip([input]).toString('latin1');
      expect(out).not.toContain('$-1\r\n');
      expect(out).not.toMatch(/\r\n_\r\n/);
      expect(out).not.toContain('$0\r\n\r\n'); // no empty endpoint either: ioredis drops those
    }
  });

  it('CLUSTER SHARDS: exactly one of port / tls-port, chosen by the listener, carrying the proxy port', async () => {
    for (const tls of [false, true]) {
      for (const protocol of [2, 3]) {
        const entry = single.find(
          (e) => e.set === 'ip' && e.protocol === protocol && e.file.endsWith('/cluster-shards.resp'),
        )!;
        const { roundTrip } = await sessionFor(entry, 'ipv4', tls);
        const node = decodeReply(roundTrip([fixture(entry.file)]));
        expect(node.items![0]!.type).toBe(protocol === 3 ? RespType.Map : RespType.Array);
        const found = extract('shards', node);
        const ports = found.addresses.filter((a) => a.port !== null);
        expect(ports.length).toBe(found.ids.length);
        for (const p of ports) expect(p.field.endsWith(tls ? ' tls-port' : ' port')).toBe(true);
      }
    }
  });

  it('RESP3 text replies stay verbatim (`=`, `txt:`) and RESP2 ones bulk, with recomputed lengths', async () => {
    for (const entry of single.filter((e) => /cluster-nodes|info-/.test(e.file))) {
      const input = fixture(entry.file);
      expect(input[0]).toBe(entry.protocol === 3 ? RespType.Verbatim : RespType.BulkString);
      const { roundTrip } = await sessionFor(entry, 'dns');
      const out = roundTrip([input]);
      const node = expectOneFrame(out, input[0]!, entry.file);
      if (entry.protocol === 3)
        expect(out.toString('latin1', 0, out.indexOf('\r\n') + 6)).toBe(`=${node.data!.length + 4}\r\ntxt:`);
      else expect(out.toString('latin1', 0, out.indexOf('\r\n'))).toBe(`$${node.data!.length}`);
    }
  });

  it('CLUSTER INFO passes through byte for byte', async () => {
    for (const entry of manifest.entries.filter((e) => e.file.endsWith('/cluster-info.resp'))) {
      const { roundTrip } = await sessionFor(entry, 'ipv4');
      const input = fixture(entry.file);
      expect(roundTrip([input]).equals(input)).toBe(true);
    }
  });
});
