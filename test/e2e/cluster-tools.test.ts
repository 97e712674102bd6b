import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { type RespNode, RespType, decodeReply, encodeCommand, toPlain } from '@slotrelay/core';
import { mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';
import { addressPortsIn, redisCli, redisPortsIn, runTool } from '../support/redis-cli.js';

/** One line of CLUSTER NODES: ID, `host:port` (bus port cut), flags, master ID. */
interface NodesLine {
  id: string;
  addr: string;
  flags: string[];
  master: string;
}

function parseNodes(text: string): NodesLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const f = l.split(' ');
      return { id: f[0]!, addr: f[1]!.split('@')[0]!, flags: f[2]!.split(','), master: f[3]! };
    });
}

/** The text after the type byte of a frame's first line (`$123`, `=127`, `*3` …). */
const headerOf = (frame: Buffer) => frame.subarray(0, frame.indexOf('\r\n')).toString('latin1');

/** A map or flat key/value array as a Map of key → node. */
function fields(node: RespNode): Map<string, RespNode> {
  const out = new Map<string, RespNode>();
  const items = node.items!;
  for (let i = 0; i < items.length; i += 2) out.set(String(toPlain(items[i]!)), items[i + 1]!);
  return out;
}

// The issue "CLUSTER reply rewriting and address round-trips": the tools and clients that discover a
// cluster — redis-cli --cluster, redis-benchmark --cluster, ioredis, node-redis — given one proxy
// address of a six-listener fleet (dynamic and static mappings), see the whole cluster and only
// proxy addresses.
for (const mappings of ['dynamic', 'static'] as const) {
  describe(`cluster tools and clients through a six-listener ${mappings} fleet`, () => {
    let fleet: TestFleet;
    let redisPorts: number[];
    /** Slot numbers that bound the cluster's ranges: a Redis port equal to one is not a leak. */
    let slotBounds: Set<number>;
    /** The node ID each proxy fronts (CLUSTER MYID through it is passed through untouched). */
    const idOf = new Map<number, string>();
    /** The proxy port fronting each node ID. */
    const proxyOf = new Map<string, number>();
    /** The cluster as Redis itself describes it (CLUSTER NODES on a node, not through the fleet). */
    let redisView: NodesLine[];
    let masterProxies: number[];
    let replicaProxies: number[];
    const masterOf = (replicaId: string) => redisView.find((l) => l.id === replicaId)!.master;
    const replicaOf = (masterId: string) => redisView.find((l) => l.master === masterId)!.id;

    /** Every address `text` names is a proxy (all of `expected`), and no Redis port appears in it. */
    const expectOnlyProxies = (text: string, expected: number[] = fleet.ports) => {
      const named = addressPortsIn(text);
      expect(named.length, text).toBeGreaterThan(0);
      expect(new Set(named), text).toEqual(new Set(expected));
      expect(redisPortsIn(text, redisPorts, slotBounds), text).toEqual([]);
    };

    beforeAll(async () => {
      const cluster = sharedCluster();
      redisPorts = cluster.nodes.map((n) => n.port);
      slotBounds = new Set((await mastersWithSlots(cluster.seeds[0]!)).flatMap((m) => m.slots.flat()));
      const direct = await RawClient.connect(cluster.nodes[0]!.port);
      redisView = parseNodes((await direct.call('CLUSTER', 'NODES')) as string);
      direct.close();
      fleet = await startFleet({ seeds: cluster.seeds.slice(0, 2), mappings, nodes: cluster.nodes });
      for (const port of fleet.ports) {
        const c = await RawClient.connect(port);
        idOf.set(port, (await c.call('CLUSTER', 'MYID')) as string);
        c.close();
      }
      for (const [port, id] of idOf) proxyOf.set(id, port);
      masterProxies = redisView.filter((l) => l.flags.includes('master')).map((l) => proxyOf.get(l.id)!);
      replicaProxies = redisView.filter((l) => l.flags.includes('slave')).map((l) => proxyOf.get(l.id)!);
    });
    afterAll(() => fleet?.stop());

    it('fronts each of the six nodes with its own proxy', () => {
      expect(new Set(idOf.values())).toEqual(new Set(redisView.map((l) => l.id)));
      expect(masterProxies).toHaveLength(3);
      expect(replicaProxies).toHaveLength(3);
    });

    it('redis-cli --cluster check through a proxy covers all 16384 slots and lists only proxies', async () => {
      for (const port of [masterProxies[0]!, replicaProxies[0]!]) {
        const r = await runTool('redis-cli', ['--cluster', 'check', `127.0.0.1:${port}`]);
        expect(r.code, r.stdout).toBe(0);
        expect(r.stdout).toContain(`>>> Performing Cluster Check (using node 127.0.0.1:${port})`);
        expect(r.stdout).toContain('[OK] All nodes agree about slots configuration.');
        expect(r.stdout).toContain('[OK] All 16384 slots covered.');
        expect(r.stdout).not.toContain('[ERR]');
        // `M: <id> <addr>` / `S: <id> <addr>`: each node under the address of the proxy that fronts it.
        const listed = [...r.stdout.matchAll(/^([MS]): ([0-9a-f]{40}) (\S+)$/gm)];
        expect(listed).toHaveLength(6);
        for (const [, role, id, addr] of listed) {
          expect(addr).toBe(`127.0.0.1:${proxyOf.get(id!)}`);
          expect(role === 'M').toBe(masterProxies.includes(proxyOf.get(id!)!));
        }
        expectOnlyProxies(r.stdout);
      }
    });

    it('redis-benchmark --cluster finds the masters as proxies and completes SET and GET without errors', async () => {
      const r = await runTool(
        'redis-benchmark',
        ['--cluster', '-h', '127.0.0.1', '-p', String(replicaProxies[1]), '-t', 'set,get', '-n', '20000', '-q'],
        60_000,
      );
      const all = `${r.stdout}\n${r.stderr}`;
      expect(r.code, all).toBe(0);
      expect(all).toContain('Cluster has 3 master nodes');
      const masters = [...all.matchAll(/^Master \d+: ([0-9a-f]{40}) (\S+)$/gm)];
      expect(masters).toHaveLength(3);
      for (const [, id, addr] of masters) expect(addr).toBe(`127.0.0.1:${proxyOf.get(id!)}`);
      expect(new Set(masters.map((m) => proxyOf.get(m[1]!)))).toEqual(new Set(masterProxies));
      expect(all).toMatch(/^SET: [\d.]+ requests per second/m);
      expect(all).toMatch(/^GET: [\d.]+ requests per second/m);
      expect(all).not.toMatch(/error|could not|failed/i);
      expect(redisPortsIn(all, redisPorts, slotBounds)).toEqual([]);
    });

    for (const resp of [2, 3] as const) {
      it(`redis-cli${resp === 3 ? ' -3' : ''} CLUSTER NODES, SLOTS and SHARDS through every proxy name only proxies, consistently`, async () => {
        const proto = resp === 3 ? ['-3'] : [];
        for (const port of fleet.ports) {
          const nodes = (await redisCli([...proto, '-p', String(port), 'CLUSTER', 'NODES'])).join('\n');
          const lines = parseNodes(nodes);
          expect(lines).toHaveLength(6);
          for (const l of lines) {
            expect(l.addr).toBe(`127.0.0.1:${proxyOf.get(l.id)}`);
            if (l.flags.includes('myself')) expect(l.id).toBe(idOf.get(port));
          }
          expectOnlyProxies(nodes);

          const slots = (await redisCli([...proto, '-p', String(port), 'CLUSTER', 'SLOTS'])).join('\n');
          expectOnlyProxies(slots);
          const shards = (await redisCli([...proto, '-p', String(port), 'CLUSTER', 'SHARDS'])).join('\n');
          expectOnlyProxies(shards);
          expect(shards).not.toContain('tls-port');
        }
      });
    }

    it('RESP3 after HELLO 3: NODES stays a verbatim frame, SLOTS and SHARDS keep their maps, all naming proxies', async () => {
      const port = masterProxies[2]!;
      const c = await RawClient.connect(port);
      try {
        expect((await c.call('HELLO', '3')) as Record<string, unknown>).toMatchObject({ proto: 3 });

        c.send(encodeCommand(['CLUSTER', 'NODES']));
        const nodesFrame = await c.frame();
        const header = headerOf(nodesFrame);
        expect(header[0]).toBe('=');
        // `=<len>\r\ntxt:<payload>\r\n` with the length recomputed over `txt:` and the rewritten payload.
        const len = Number(header.slice(1));
        expect(nodesFrame.length).toBe(header.length + 2 + len + 2);
        expect(nodesFrame.subarray(header.length + 2, header.length + 6).toString()).toBe('txt:');
        const nodesText = nodesFrame.subarray(header.length + 6, header.length + 2 + len).toString();
        expect(nodesText.endsWith('\n')).toBe(true);
        for (const l of parseNodes(nodesText)) expect(l.addr).toBe(`127.0.0.1:${proxyOf.get(l.id)}`);

        c.send(encodeCommand(['CLUSTER', 'SLOTS']));
        const slots = await c.reply();
        expect(slots.type).toBe(RespType.Array);
        let covered = 0;
        for (const range of slots.items!) {
          const [lo, hi, ...entries] = range.items!;
          covered += Number(hi!.text) - Number(lo!.text) + 1;
          expect(entries).toHaveLength(2); // master and its replica
          for (const e of entries) {
            const [host, p, id, meta] = e.items!;
            expect(host!.data!.toString()).toBe('127.0.0.1');
            expect(p!.type).toBe(RespType.Integer);
            expect(Number(p!.text)).toBe(proxyOf.get(id!.data!.toString()));
            expect(meta!.type).toBe(RespType.Map); // `%0` in RESP3, `*0` in RESP2
          }
        }
        expect(covered).toBe(16384);

        c.send(encodeCommand(['CLUSTER', 'SHARDS']));
        const shards = await c.reply();
        expect(shards.items).toHaveLength(3);
        for (const shard of shards.items!) {
          expect(shard.type).toBe(RespType.Map);
          const nodes = fields(shard).get('nodes')!;
          expect(nodes.items).toHaveLength(2);
          for (const n of nodes.items!) {
            expect(n.type).toBe(RespType.Map);
            const f = fields(n);
            const id = f.get('id')!.data!.toString();
            expect(f.get('port')!.type).toBe(RespType.Integer);
            expect(Number(f.get('port')!.text)).toBe(proxyOf.get(id));
            expect(f.has('tls-port')).toBe(false);
            expect(f.get('ip')!.data!.toString()).toBe('127.0.0.1');
            expect(f.get('endpoint')!.data!.toString()).toBe('127.0.0.1');
          }
        }

        // CLUSTER REPLICAS: each element a NODES line without '\n', naming the replica's proxy.
        const masterId = idOf.get(port)!;
        const replicas = (await c.call('CLUSTER', 'REPLICAS', masterId)) as string[];
        expect(replicas).toHaveLength(1);
        expect(parseNodes(replicas[0]!)[0]!.addr).toBe(`127.0.0.1:${proxyOf.get(replicaOf(masterId))}`);

        // The frames were cut right: the connection still pairs replies with requests.
        expect(await c.call('PING')).toBe('PONG');
      } finally {
        c.close();
      }
    });

    it('RESP2: NODES stays a bulk string, SLOTS metadata and SHARDS dicts stay flat arrays', async () => {
      const c = await RawClient.connect(replicaProxies[2]!);
      try {
        c.send(encodeCommand(['CLUSTER', 'NODES']));
        const nodes = decodeReply(await c.frame());
        expect(nodes.type).toBe(RespType.BulkString);
        for (const l of parseNodes(nodes.data!.toString())) expect(l.addr).toBe(`127.0.0.1:${proxyOf.get(l.id)}`);

        c.send(encodeCommand(['CLUSTER', 'SLOTS']));
        for (const range of (await c.reply()).items!) {
          for (const e of range.items!.slice(2)) {
            expect(e.items![3]!.type).toBe(RespType.Array);
            expect(Number(e.items![1]!.text)).toBe(proxyOf.get(e.items![2]!.data!.toString()));
          }
        }

        c.send(encodeCommand(['CLUSTER', 'SHARDS']));
        for (const shard of (await c.reply()).items!) {
          expect(shard.type).toBe(RespType.Array);
          expect(shard.items).toHaveLength(4);
          for (const n of fields(shard).get('nodes')!.items!) {
            expect(n.type).toBe(RespType.Array);
            const f = fields(n);
            expect(Number(f.get('port')!.text)).toBe(proxyOf.get(f.get('id')!.data!.toString()));
          }
        }
        expect(await c.call('PING')).toBe('PONG');
      } finally {
        c.close();
      }
    });

    it('CLUSTER NODES and SHARDS queued in MULTI come back rewritten inside the EXEC array', async () => {
      const c = await RawClient.connect(masterProxies[1]!);
      try {
        await c.call('HELLO', '3');
        expect(await c.call('MULTI')).toBe('OK');
        expect(await c.call('CLUSTER', 'NODES')).toBe('QUEUED');
        expect(await c.call('CLUSTER', 'SHARDS')).toBe('QUEUED');
        c.send(encodeCommand(['EXEC']));
        const exec = await c.reply();
        const [nodes, shards] = exec.items!;
        expect(nodes!.type).toBe(RespType.Verbatim);
        for (const l of parseNodes(nodes!.data!.toString())) expect(l.addr).toBe(`127.0.0.1:${proxyOf.get(l.id)}`);
        for (const shard of shards!.items!) {
          for (const n of fields(shard).get('nodes')!.items!) {
            const f = fields(n);
            expect(Number(f.get('port')!.text)).toBe(proxyOf.get(f.get('id')!.data!.toString()));
          }
        }
      } finally {
        c.close();
      }
    });

    for (const resp of [2, 3] as const) {
      it(`ROLE and INFO through the proxy of a master and of a replica name proxies (RESP${resp})`, async () => {
        for (const port of fleet.ports) {
          const id = idOf.get(port)!;
          const c = await RawClient.connect(port);
          try {
            if (resp === 3) await c.call('HELLO', '3');
            c.send(encodeCommand(['ROLE']));
            const role = (await c.reply()).items!;
            c.send(encodeCommand(['INFO', 'replication']));
            const infoFrame = decodeReply(await c.frame());
            expect(infoFrame.type).toBe(resp === 3 ? RespType.Verbatim : RespType.BulkString);
            const info = infoFrame.data!.toString();
            if (masterProxies.includes(port)) {
              const replicaProxy = proxyOf.get(replicaOf(id))!;
              expect(toPlain(role[0]!)).toBe('master');
              // A master lists `[ip, port, offset]` per replica, the port a bulk string.
              const replicas = role[2]!.items!;
              expect(replicas).toHaveLength(1);
              expect(replicas[0]!.items![0]!.data!.toString()).toBe('127.0.0.1');
              expect(replicas[0]!.items![1]!.type).toBe(RespType.BulkString);
              expect(replicas[0]!.items![1]!.data!.toString()).toBe(String(replicaProxy));
              expect(info).toContain('role:master');
              expect(info).toMatch(new RegExp(`^slave0:ip=127\\.0\\.0\\.1,port=${replicaProxy},`, 'm'));
            } else {
              const masterProxy = proxyOf.get(masterOf(id))!;
              // A replica gives `["slave", master_ip, master_port, state, offset]`, the port an integer.
              expect(toPlain(role[0]!)).toBe('slave');
              expect(role[1]!.data!.toString()).toBe('127.0.0.1');
              expect(role[2]!.type).toBe(RespType.Integer);
              expect(Number(role[2]!.text)).toBe(masterProxy);
              expect(info).toContain('role:slave');
              expect(info).toMatch(/^master_host:127\.0\.0\.1\r$/m);
              expect(info).toMatch(new RegExp(`^master_port:${masterProxy}\r$`, 'm'));
            }
            expect(await c.call('INFO', 'server')).toMatch(new RegExp(`^tcp_port:${port}\r$`, 'm'));
          } finally {
            c.close();
          }
        }
      });
    }

    it('ioredis Cluster (CLUSTER SLOTS over RESP2) knows every master and replica as a proxy, and reads from replicas', async () => {
      const c = new Cluster([{ host: '127.0.0.1', port: fleet.ports[5]! }], { scaleReads: 'slave' });
      try {
        const keys = Array.from({ length: 500 }, (_, i) => `tools-ioredis-${mappings}:${i}`);
        await Promise.all(keys.map((k, i) => c.set(k, `v${i}`)));
        // Let the replicas catch up before reading from them: WAIT on each master's own connection.
        expect(await Promise.all(c.nodes('master').map((n) => n.wait(1, 5000)))).toEqual([1, 1, 1]);
        expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => `v${i}`));

        expect(new Set(c.nodes('master').map((n) => n.options.port))).toEqual(new Set(masterProxies));
        expect(new Set(c.nodes('slave').map((n) => n.options.port))).toEqual(new Set(replicaProxies));
        // ioredis's slot table: every slot → [master, replica] as proxy `host:port` keys.
        expect(c.slots).toHaveLength(16384);
        const ranges = await mastersWithSlots(sharedCluster().seeds[0]!);
        for (const m of ranges) {
          const expected = [`127.0.0.1:${proxyOf.get(m.id)}`, `127.0.0.1:${proxyOf.get(replicaOf(m.id))}`];
          for (const [lo, hi] of m.slots)
            for (const s of [lo, hi, (lo + hi) >> 1]) expect(c.slots[s]).toEqual(expected);
        }
      } finally {
        c.disconnect();
      }
    });

    for (const resp of [2, 3] as const) {
      it(`node-redis createCluster with useReplicas (RESP${resp}) discovers replicas as proxies, whose ROLE and INFO name proxies`, async () => {
        const c = createCluster({
          rootNodes: [{ socket: { host: '127.0.0.1', port: fleet.ports[resp]! } }],
          useReplicas: true,
          RESP: resp,
        });
        c.on('error', () => {});
        await c.connect();
        try {
          expect(new Set(c.masters.map((n) => n.port))).toEqual(new Set(masterProxies));
          expect(new Set(c.replicas.map((n) => n.port))).toEqual(new Set(replicaProxies));
          expect([...c.masters, ...c.replicas].every((n) => n.host === '127.0.0.1')).toBe(true);
          for (const replica of c.replicas) {
            const client = await c.nodeClient(replica);
            const masterProxy = proxyOf.get(masterOf(idOf.get(replica.port)!))!;
            const role = (await client.sendCommand(['ROLE'])) as unknown[];
            expect(role.slice(0, 3)).toEqual(['slave', '127.0.0.1', masterProxy]);
            const info = String(await client.sendCommand(['INFO', 'replication']));
            expect(info).toMatch(new RegExp(`^master_port:${masterProxy}\r$`, 'm'));
          }
          // Reads go to masters and replicas alike (node-redis sends READONLY to replicas).
          const keys = Array.from({ length: 500 }, (_, i) => `tools-noderedis-${mappings}-${resp}:${i}`);
          await Promise.all(keys.map((k, i) => c.set(k, `v${i}`)));
          for (const m of c.masters) expect(await (await c.nodeClient(m)).sendCommand(['WAIT', '1', '5000'])).toBe(1);
          expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
        } finally {
          await c.close();
        }
      });
    }
  });
}
