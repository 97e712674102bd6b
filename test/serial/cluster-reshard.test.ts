import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { type ClusterNode, type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { keySlot, mastersWithSlots } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { outgoingPeerPorts } from '../support/proc-net.js';
import { RawClient } from '../support/raw-client.js';
import { type ToolRun, redisPortsIn, runTool } from '../support/redis-cli.js';

const RESHARD_SLOTS = 500;

/** A node-redis cluster client over RESP3, given one proxy address. */
function nodeRedisCluster(port: number) {
  return createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port } }], RESP: 3 });
}

/** Slot count per master ID, as CLUSTER SLOTS on a Redis node (not through the fleet) reports it. */
async function slotCounts(node: ClusterNode): Promise<Map<string, number>> {
  const masters = await mastersWithSlots(`${node.host}:${node.port}`);
  return new Map(masters.map((m) => [m.id, m.slots.reduce((n, [lo, hi]) => n + hi - lo + 1, 0)]));
}

/** The master ID owning `slot`, per CLUSTER SLOTS on a Redis node. */
async function ownerOf(node: ClusterNode, slot: number): Promise<string | undefined> {
  const masters = await mastersWithSlots(`${node.host}:${node.port}`);
  return masters.find((m) => m.slots.some(([lo, hi]) => slot >= lo && slot <= hi))?.id;
}

// redis-cli --cluster reshard / rebalance / check given a proxy address operate the real cluster:
// they learn proxies from CLUSTER NODES and send MIGRATE naming proxies, which the fleet maps back to
// Redis. Meanwhile cluster clients reading through the fleet (ioredis over RESP2, node-redis over
// RESP3) follow the rewritten MOVED / ASK and never see an error, a wrong value or a Redis address.
describe('redis-cli --cluster reshard, rebalance and check through the fleet', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let redisPorts: number[];
  let source: ClusterNode;
  let target: ClusterNode;
  /** The proxy fronting each node ID. */
  const proxyOf = new Map<string, number>();
  /** ~1000 keys in the source's lowest 600 slots (where reshard takes its slots from), 400 elsewhere. */
  const keys: string[] = [];
  const valueOf = (k: string) => `value-of-${k}`;
  /** The clients reading while slots move: ioredis (CLUSTER SLOTS over RESP2) and node-redis (RESP3). */
  let reader: Cluster;
  let nodeRedis: ReturnType<typeof nodeRedisCluster>;
  /** Every address ioredis ever added a connection for: from CLUSTER SLOTS, and from MOVED / ASK mid-migration. */
  const readerNodes = new Set<string>();

  /**
   * Read the keys through the fleet, 100 at a time and round after round through all of them, until
   * `done()` (bounded: 20,000 batches, 60 s), every other read by each client. Small batches with a
   * pause: the fleet runs in this process, and the tool's own commands must not queue behind
   * thousands of reads. Every read must return the key's value; an error reaching the caller counts
   * as a wrong read.
   */
  async function readWhile(done: () => boolean): Promise<{ reads: number; wrong: string[] }> {
    const started = Date.now();
    const wrong: string[] = [];
    let reads = 0;
    for (let batch = 0; !done() && batch < 20_000 && Date.now() - started < 60_000; batch++) {
      const some = Array.from({ length: 100 }, (_, i) => keys[(batch * 100 + i) % keys.length]!);
      const got = await Promise.all(
        some.map((k, i) => (i % 2 ? reader.get(k) : nodeRedis.get(k)).catch((e: Error) => `error: ${e.message}`)),
      );
      got.forEach((v, i) => {
        if (v !== valueOf(some[i]!)) wrong.push(`${some[i]} (slot ${keySlot(some[i]!)}): ${v}`);
      });
      reads += some.length;
      await new Promise((r) => setTimeout(r, 5));
    }
    return { reads, wrong };
  }

  /** Run a redis-cli --cluster command while `readWhile` runs; both results. */
  async function underLoad(args: string[]): Promise<{ run: ToolRun; reads: { reads: number; wrong: string[] } }> {
    let finished = false;
    const reads = readWhile(() => finished);
    const run = await runTool('redis-cli', args, 120_000).finally(() => {
      finished = true;
    });
    return { run, reads: await reads };
  }

  /** `redis-cli --cluster check` through a proxy, repeated (bounded) until it passes: replicas learn slot moves by gossip. */
  async function checkUntilOk(port: number): Promise<ToolRun> {
    let r: ToolRun;
    for (let i = 0; ; i++) {
      r = await runTool('redis-cli', ['--cluster', 'check', `127.0.0.1:${port}`]);
      if ((r.code === 0 && r.stdout.includes('[OK] All nodes agree about slots configuration.')) || i >= 40) return r;
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  /** Every key readable through the fleet: by a client that never saw the old layout, and by the readers. */
  async function expectAllKeysReadable(): Promise<void> {
    const fresh = new Cluster([{ host: '127.0.0.1', port: fleet.ports[3]! }]);
    try {
      expect(await Promise.all(keys.map((k) => fresh.get(k)))).toEqual(keys.map(valueOf));
    } finally {
      fresh.disconnect();
    }
    expect(await Promise.all(keys.map((k) => reader.get(k)))).toEqual(keys.map(valueOf));
    expect(await Promise.all(keys.map((k) => nodeRedis.get(k)))).toEqual(keys.map(valueOf));
  }

  /** The reading clients only ever knew proxies. */
  function expectReadersKnewOnlyProxies(): void {
    expect([...readerNodes].filter((a) => !fleet.ports.includes(Number(a.split(':')[1])))).toEqual([]);
    expect([...nodeRedis.masters, ...nodeRedis.replicas].filter((n) => !fleet.ports.includes(n.port))).toEqual([]);
  }

  /** The check output: passes, and names every node by the proxy in front of it, never a Redis port. */
  function expectCheckPassesWithProxies(r: ToolRun): void {
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('[OK] All nodes agree about slots configuration.');
    expect(r.stdout).toContain('[OK] All 16384 slots covered.');
    const listed = [...r.stdout.matchAll(/^[MS]: ([0-9a-f]{40}) (\S+)$/gm)];
    expect(listed).toHaveLength(6);
    for (const [, id, addr] of listed) expect(addr).toBe(`127.0.0.1:${proxyOf.get(id!)}`);
    // Slot lists (`slots:[0-499],[12345],…`) may hold a number equal to a Redis port: not addresses.
    expect(redisPortsIn(r.stdout.replace(/^\s*slots:.*$/gm, ''), redisPorts)).toEqual([]);
  }

  beforeAll(async () => {
    cluster = await startCluster();
    redisPorts = cluster.nodes.map((n) => n.port);
    fleet = await startFleet({ seeds: cluster.seeds.slice(0, 2) });
    for (const port of fleet.ports) {
      const c = await RawClient.connect(port);
      proxyOf.set((await c.call('CLUSTER', 'MYID')) as string, port);
      c.close();
    }
    const masters = (await mastersWithSlots(cluster.seeds[0]!)).sort((a, b) => a.slots[0]![0] - b.slots[0]![0]);
    source = cluster.nodes.find((n) => n.id === masters[0]!.id)!;
    target = cluster.nodes.find((n) => n.id === masters[1]!.id)!;
    const lowest = masters[0]!.slots[0]![0];
    let inRange = 0;
    let elsewhere = 0;
    for (let i = 0; inRange < 1000 || elsewhere < 400; i++) {
      const k = `reshard:${i}`;
      const s = keySlot(k);
      if (s >= lowest && s < lowest + 600) {
        if (inRange++ < 1000) keys.push(k);
      } else if (elsewhere++ < 400) {
        keys.push(k);
      }
    }
    reader = new Cluster([{ host: '127.0.0.1', port: fleet.ports[0]! }]);
    reader.on('+node', (n: { options: { host?: string; port?: number } }) =>
      readerNodes.add(`${n.options.host}:${n.options.port}`),
    );
    await Promise.all(keys.map((k) => reader.set(k, valueOf(k))));
    nodeRedis = nodeRedisCluster(fleet.ports[2]!);
    nodeRedis.on('error', () => {});
    await nodeRedis.connect();
    // The test's slot function agrees with Redis.
    const raw = await RawClient.connect(source.port);
    for (const k of keys.slice(0, 5)) expect(await raw.call('CLUSTER', 'KEYSLOT', k)).toBe(keySlot(k));
    raw.close();
  });
  afterAll(async () => {
    reader?.disconnect();
    await nodeRedis?.close();
    await fleet?.stop();
    await cluster?.stop();
  });

  it(`reshard of ${RESHARD_SLOTS} slots through a proxy moves them in Redis while clients keep reading every key`, async () => {
    const before = await slotCounts(target);
    const { run, reads } = await underLoad([
      '--cluster',
      'reshard',
      `127.0.0.1:${fleet.ports[1]}`,
      '--cluster-from',
      source.id,
      '--cluster-to',
      target.id,
      '--cluster-slots',
      String(RESHARD_SLOTS),
      '--cluster-yes',
    ]);

    // MIGRATE named the target's proxy; the fleet sent it to Redis naming the target itself, so the
    // source redis-server connected straight to the target (its MIGRATE socket stays cached for 10 s).
    const peers = await outgoingPeerPorts(source.pid, [source.port, source.port + 10_000]);
    expect(peers).toContain(target.port);
    expect(peers.filter((p) => fleet.ports.includes(p))).toEqual([]);

    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const moves = [...run.stdout.matchAll(/^Moving slot (\d+) from (\S+) to (\S+):/gm)];
    expect(moves).toHaveLength(RESHARD_SLOTS);
    for (const [, , from, to] of moves) {
      expect(from).toBe(`127.0.0.1:${proxyOf.get(source.id)}`);
      expect(to).toBe(`127.0.0.1:${proxyOf.get(target.id)}`);
    }
    // Keys moved: redis-cli prints a dot per MIGRATE batch.
    expect(run.stdout).toMatch(/^Moving slot \d+ from \S+ to \S+: \.+$/m);
    const moved = moves.map((m) => Number(m[1]));
    expect(keys.filter((k) => moved.includes(keySlot(k))).length).toBeGreaterThan(500);

    // Redis itself (CLUSTER SLOTS on the nodes, not through the fleet) has the new layout.
    const after = await slotCounts(target);
    expect(after.get(target.id)).toBe(before.get(target.id)! + RESHARD_SLOTS);
    expect(after.get(source.id)).toBe(before.get(source.id)! - RESHARD_SLOTS);
    for (const s of [moved[0]!, moved[RESHARD_SLOTS - 1]!]) {
      expect(await ownerOf(target, s)).toBe(target.id);
      expect(await ownerOf(source, s)).toBe(target.id);
    }

    expect(reads.reads).toBeGreaterThan(keys.length);
    expect(reads.wrong.length, `${reads.wrong.length} wrong reads, first: ${reads.wrong.slice(0, 10).join('; ')}`).toBe(
      0,
    );
    expectReadersKnewOnlyProxies();
    await expectAllKeysReadable();
    expectCheckPassesWithProxies(await checkUntilOk(fleet.ports[2]!));
  });

  it('rebalance through a proxy evens the masters out again while clients keep reading every key', async () => {
    // The reshard left the masters 500 slots apart, far above rebalance's 2% threshold.
    const { run, reads } = await underLoad(['--cluster', 'rebalance', `127.0.0.1:${fleet.ports[4]}`]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain('>>> Rebalancing across 3 nodes');
    const moves = [...run.stdout.matchAll(/^Moving (\d+) slots from (\S+) to (\S+)$/gm)];
    expect(moves.length).toBeGreaterThan(0);
    for (const [, , from, to] of moves) {
      expect(fleet.ports).toContain(Number(from!.split(':')[1]));
      expect(fleet.ports).toContain(Number(to!.split(':')[1]));
    }

    const counts = await slotCounts(target);
    expect([...counts.values()].sort()).toEqual([5461, 5461, 5462]);

    expect(reads.reads).toBeGreaterThan(keys.length);
    expect(reads.wrong.length, `${reads.wrong.length} wrong reads, first: ${reads.wrong.slice(0, 10).join('; ')}`).toBe(
      0,
    );
    expectReadersKnewOnlyProxies();
    await expectAllKeysReadable();
    expectCheckPassesWithProxies(await checkUntilOk(fleet.ports[5]!));
  });
});
