import { describe, expect, it } from 'vitest';
import { type AddressMap, decodeReply, encodeCommand, parseClusterNodes, toPlain } from '@slotrelay/core/internal';
import { chunkings, sessionHarness } from '@slotrelay/testkit';
import { ClusterCmdsMiddleware, type ReplyKind, mapResolver, rewriteReply } from '@slotrelay/middleware-cluster-cmds';
import { expectNoRedisHostText, expectOneFrame, expectOnlyProxies, extract } from './support/addresses.js';
import {
  asService,
  fixture,
  flush,
  outputReader,
  listenerInfo,
  manifest,
  mapFor,
  nodesText,
  proxyAddress,
  stubTopology,
  topologyOf,
  withoutNodes,
} from './support/fixtures.js';

const full = topologyOf('ip');
const entryOf = (file: string) => manifest.entries.find((e) => e.file === file)!;
const askedId = entryOf('ip/resp2/cluster-nodes.resp').askedId;
// A replica of another master, and that master: the two nodes a stale map may miss.
const otherMaster = full.find((n) => n.role === 'master' && n.id !== askedId)!;
const otherReplica = full.find((n) => n.masterId === otherMaster.id)!;
const text = nodesText('ip/resp2/cluster-nodes.resp');
const mapWithout = (...ids: string[]) => mapFor(parseClusterNodes(withoutNodes(text, ids)), { askedId });
const fullMap = () => mapFor(full, { askedId });
const proxies = (() => {
  const all = Array.from({ length: full.length + 2 }, (_, i) => proxyAddress('ipv4', i));
  return { hosts: new Set(all.map((a) => a.host)), ports: new Set(all.map((a) => a.port)) };
})();

const cases: Array<{ kind: ReplyKind; command: string[]; file: string }> = [
  { kind: 'nodes', command: ['CLUSTER', 'NODES'], file: 'cluster-nodes' },
  { kind: 'slots', command: ['CLUSTER', 'SLOTS'], file: 'cluster-slots' },
  { kind: 'shards', command: ['CLUSTER', 'SHARDS'], file: 'cluster-shards' },
];

async function session(current: AddressMap | null, next: () => AddressMap | null) {
  const stub = stubTopology(current, next);
  const h = await sessionHarness({ middleware: [new ClusterCmdsMiddleware(asService(stub), listenerInfo())] });
  return { stub, h };
}

describe('a reply naming a node the map does not know', () => {
  for (const protocol of [2, 3]) {
    for (const c of cases) {
      const file = `ip/resp${protocol}/${c.file}.resp`;
      it(`${file}: rescans, then rewrites with the new map; later replies wait for it (every split)`, async () => {
        const input = fixture(file);
        const expected = rewriteReply(input, c.kind, {
          resolve: mapResolver(fullMap(), { strict: true }),
          tls: false,
        }).value;
        const { stub, h } = await session(mapWithout(otherReplica.id), fullMap);
        if (protocol === 3) {
          h.clientSends(encodeCommand(['HELLO', '3']));
          h.redisSends('%1\r\n$5\r\nproto\r\n:3\r\n');
        }
        let scans = 0;
        const next = outputReader(h.client);
        for (const { label, chunks } of chunkings(input)) {
          stub.current = mapWithout(otherReplica.id); // stale again for every split
          h.clientSends(encodeCommand(c.command), encodeCommand(['PING']));
          h.redisSends(...chunks, '+PONG\r\n');
          expect(next().length, `${label}: held until the rescan settles`).toBe(0);
          await flush();
          const out = next();
          expect(out.toString('latin1'), label).toBe(expected.toString('latin1') + '+PONG\r\n');
          expect(stub.scans, label).toBe(++scans);
        }
        expect(stub.reasons[0]).toContain(otherReplica.id);
      });
    }
  }

  it('a rescan with no map yet (first use) gives one and the reply is rewritten with it', async () => {
    const { stub, h } = await session(null, fullMap);
    h.clientSends(encodeCommand(['CLUSTER', 'NODES']));
    h.redisSends(fixture('ip/resp2/cluster-nodes.resp'));
    await flush();
    expect(stub.scans).toBe(1);
    expectOnlyProxies(extract('nodes', decodeReply(h.client.written())), proxies, full);
  });
});

describe('a node still unknown after the rescan is hidden, never leaked', () => {
  const run = async (kind: ReplyKind, command: string[], file: string, missing: string[]) => {
    const { stub, h } = await session(mapWithout(...missing), () => mapWithout(...missing));
    h.clientSends(encodeCommand(command));
    h.redisSends(fixture(file));
    await flush();
    const out = h.client.written();
    const node = expectOneFrame(out, fixture(file)[0]!, file);
    expectOnlyProxies(extract(kind, node), proxies, full, file);
    expectNoRedisHostText(out, full, file);
    return { stub, h, node, out };
  };

  it('CLUSTER NODES: the unknown node keeps its line, as :0@0 with its flags', async () => {
    for (const p of [2, 3]) {
      const { node } = await run('nodes', ['CLUSTER', 'NODES'], `ip/resp${p}/cluster-nodes.resp`, [otherReplica.id]);
      const line = node
        .data!.toString('latin1')
        .split('\n')
        .find((l) => l.startsWith(otherReplica.id))!;
      expect(line).toMatch(new RegExp(`^${otherReplica.id} :0@0 slave ${otherMaster.id} `));
    }
  });

  it('CLUSTER SLOTS: an unknown replica leaves its range; an unknown master takes its whole range along', async () => {
    for (const p of [2, 3]) {
      const file = `ip/resp${p}/cluster-slots.resp`;
      const r1 = toPlain((await run('slots', ['CLUSTER', 'SLOTS'], file, [otherReplica.id])).node) as unknown[][];
      expect(r1.length).toBe(3);
      expect(r1.flatMap((r) => r.slice(2).map((e) => (e as unknown[])[2]))).not.toContain(otherReplica.id);
      const r2 = toPlain((await run('slots', ['CLUSTER', 'SLOTS'], file, [otherMaster.id])).node) as unknown[][];
      expect(r2.length).toBe(2);
      expect(r2.flatMap((r) => r.slice(2).map((e) => (e as unknown[])[2]))).not.toContain(otherReplica.id);
    }
  });

  it('CLUSTER SHARDS: the unknown node is dropped from its shard', async () => {
    for (const p of [2, 3]) {
      const { node } = await run('shards', ['CLUSTER', 'SHARDS'], `ip/resp${p}/cluster-shards.resp`, [otherReplica.id]);
      const ids = extract('shards', node).ids;
      expect(ids.length).toBe(full.length - 1);
      expect(ids).not.toContain(otherReplica.id);
    }
  });

  it('CLUSTER REPLICAS: the unknown replica is written :0@0', async () => {
    const myReplica = full.find((n) => n.masterId === askedId)!;
    for (const p of [2, 3]) {
      const { node } = await run('replicas', ['CLUSTER', 'REPLICAS', askedId], `ip/resp${p}/cluster-replicas.resp`, [
        myReplica.id,
      ]);
      expect(String((toPlain(node) as string[])[0])).toMatch(new RegExp(`^${myReplica.id} :0@0 slave `));
    }
  });

  it('INFO and ROLE of a master: the unknown replica is left out', async () => {
    const myReplica = full.find((n) => n.masterId === askedId)!;
    for (const p of [2, 3]) {
      const info = (
        await run('info', ['INFO', 'replication'], `ip/resp${p}/info-replication-master.resp`, [myReplica.id])
      ).node;
      expect(info.data!.toString('latin1')).not.toMatch(/^slave\d+:/m);
      const role = toPlain(
        (await run('role', ['ROLE'], `ip/resp${p}/role-master.resp`, [myReplica.id])).node,
      ) as unknown[];
      expect(role[2]).toEqual([]);
    }
  });

  it('does not rescan again for the same unknown node until the map changes', async () => {
    const { stub, h } = await session(mapWithout(otherReplica.id), () => stub.current);
    const nodes = fixture('ip/resp2/cluster-nodes.resp');
    h.clientSends(encodeCommand(['CLUSTER', 'NODES']));
    h.redisSends(nodes);
    await flush();
    const first = Buffer.from(h.client.written());
    h.clientSends(encodeCommand(['CLUSTER', 'NODES']));
    h.redisSends(nodes);
    // Answered at once, from the map the rescan left.
    expect(h.client.written().subarray(first.length).equals(first)).toBe(true);
    expect(stub.scans).toBe(1);
    // A new map (the periodic check found a change): the node is worth a rescan again.
    stub.current = mapWithout(otherReplica.id);
    h.clientSends(encodeCommand(['CLUSTER', 'NODES']));
    h.redisSends(nodes);
    await flush();
    expect(stub.scans).toBe(2);
  });

  it('a failed rescan still answers, with the unknown node hidden', async () => {
    const { stub, h } = await session(mapWithout(otherReplica.id), fullMap);
    stub.fail = true;
    h.clientSends(encodeCommand(['CLUSTER', 'SLOTS']));
    h.redisSends(fixture('ip/resp2/cluster-slots.resp'));
    await flush();
    const node = expectOneFrame(h.client.written(), 0x2a);
    expect(extract('slots', node).ids).not.toContain(otherReplica.id);
    expectNoRedisHostText(h.client.written(), full);
  });

  it('a node ID the map does not know at a known address is taken by address once a rescan did not help', async () => {
    // A node replaced in place: Redis reports a new ID, the map still has the old one at that address.
    const replaced = text.replace(otherReplica.id, 'f'.repeat(40));
    const { stub, h } = await session(fullMap(), fullMap);
    h.clientSends(encodeCommand(['CLUSTER', 'NODES']));
    h.redisSends(`$${replaced.length}\r\n${replaced}\r\n`);
    await flush();
    expect(stub.scans).toBe(1);
    const line = decodeReply(h.client.written())
      .data!.toString()
      .split('\n')
      .find((l) => l.startsWith('f'.repeat(40)))!;
    expect(line.split(' ')[1]).toBe(`${fullMap().proxyFor(otherReplica.id)!.text}@${otherReplica.cport}`);
  });
});
