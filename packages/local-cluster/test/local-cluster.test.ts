import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisServerPath, startCluster, type ClusterNode, type LocalCluster } from '../src/index.js';

type SlotNode = [host: string, port: number, id: string, meta: unknown];
// CLUSTER SLOTS lists a range's master first, then its replicas.
type SlotEntry = [start: number, end: number, master: SlotNode, ...replicas: SlotNode[]];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function info(text: string): Map<string, string> {
  return new Map(
    text
      .split(/\r?\n/)
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
  );
}

describe('startCluster: 3 masters × 1 replica', () => {
  let cluster: LocalCluster;
  let added: ClusterNode | undefined;

  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('finds redis-server', () => {
    expect(existsSync(redisServerPath())).toBe(true);
  });

  it('starts 6 nodes on ports whose bus ports stay below the ephemeral range', () => {
    expect(cluster.nodes).toHaveLength(6);
    for (const n of cluster.nodes) {
      expect(n.host).toBe('127.0.0.1');
      expect(n.port + 10000).toBeLessThan(32768);
      expect(n.port).toBeGreaterThanOrEqual(12000);
      expect(n.tlsPort).toBeUndefined();
      expect(n.id).toMatch(/^[0-9a-f]{40}$/);
      expect(alive(n.pid)).toBe(true);
    }
    expect(new Set(cluster.nodes.map((n) => n.id)).size).toBe(6);
    expect(new Set(cluster.nodes.map((n) => n.dir)).size).toBe(6);
    expect(cluster.seeds).toEqual(cluster.nodes.map((n) => `127.0.0.1:${n.port}`));
  });

  it('has 3 masters and 3 replicas, one replica per master', async () => {
    expect(cluster.masters()).toHaveLength(3);
    expect(cluster.replicas()).toHaveLength(3);
    const masterIds = new Set(cluster.masters().map((m) => m.id));
    const replicaOf = await Promise.all(
      cluster.replicas().map(async (r) => info(await cluster.cli(r, 'INFO', 'replication'))),
    );
    const masterPorts = replicaOf.map((i) => Number(i.get('master_port')));
    expect(new Set(masterPorts)).toEqual(new Set(cluster.masters().map((m) => m.port)));
    expect(masterIds.size).toBe(3);
  });

  it('covers all 16384 slots in CLUSTER SLOTS, every master with its replica listed', async () => {
    const slots = JSON.parse(await cluster.cli(0, '--json', 'CLUSTER', 'SLOTS')) as SlotEntry[];
    const covered = slots.reduce((n, [start, end]) => n + end - start + 1, 0);
    expect(covered).toBe(16384);
    const listed = slots.flatMap(([, , ...nodes]) => nodes.map((n) => n[2]));
    expect(new Set(listed)).toEqual(new Set(cluster.nodes.map((n) => n.id)));
    for (const [, , master, ...replicas] of slots) {
      expect(cluster.masters().map((m) => m.id)).toContain(master[2]);
      expect(replicas).toHaveLength(1);
    }
    // Every node sees the same map.
    const views = await Promise.all(cluster.nodes.map((n) => cluster.cli(n, '--json', 'CLUSTER', 'SLOTS')));
    const canon = (text: string): string =>
      JSON.stringify(
        (JSON.parse(text) as SlotEntry[])
          .map(([s, e, ...ns]) => [s, e, ns.map((n) => n[2]).sort()])
          .sort((a, b) => (a[0] as number) - (b[0] as number)),
      );
    expect(new Set(views.map(canon)).size).toBe(1);
  });

  it('serves data through redis-cli -c', async () => {
    await cluster.cli(0, '-c', 'SET', 'local-cluster:test', 'v1');
    expect((await cluster.cli(3, '-c', 'GET', 'local-cluster:test')).trim()).toBe('v1');
  });

  it('addNode() starts an empty, unjoined node that can then be added to the cluster', async () => {
    added = await cluster.addNode();
    expect(cluster.nodes).toHaveLength(7);
    expect(cluster.nodes[6]).toBe(added);
    expect(added.role).toBe('master');
    expect(added.id).toMatch(/^[0-9a-f]{40}$/);
    expect(added.port + 10000).toBeLessThan(32768);
    expect(alive(added.pid)).toBe(true);
    expect(cluster.seeds).toHaveLength(7);
    const before = info(await cluster.cli(added, 'CLUSTER', 'INFO'));
    expect(before.get('cluster_known_nodes')).toBe('1');
    expect(before.get('cluster_state')).toBe('fail');
    // An unjoined node does not block waitHealthy.
    await cluster.waitHealthy(10_000);

    const first = cluster.nodes[0]!;
    await cluster.cli(0, '--cluster', 'add-node', `${added.host}:${added.port}`, `${first.host}:${first.port}`);
    await cluster.waitHealthy(20_000);
    for (const n of cluster.nodes) {
      expect(info(await cluster.cli(n, 'CLUSTER', 'INFO')).get('cluster_known_nodes')).toBe('7');
    }
    expect(cluster.masters()).toHaveLength(4);
  }, 30_000);

  it('waitHealthy() skips a killed node and waits for its replica to take over', async () => {
    const victim = cluster.masters().find((m) => m !== added)!;
    const replicaIds = new Set(cluster.replicas().map((r) => r.id));
    process.kill(victim.pid, 'SIGKILL');
    await cluster.waitHealthy(20_000);
    expect(cluster.masters()).not.toContain(victim);
    expect(cluster.masters()).toHaveLength(4);
    expect(cluster.replicas()).toHaveLength(2);
    expect(cluster.masters().filter((m) => replicaIds.has(m.id))).toHaveLength(1);
    const slots = JSON.parse(await cluster.cli(cluster.masters()[0]!, '--json', 'CLUSTER', 'SLOTS')) as SlotEntry[];
    expect(slots.reduce((n, [start, end]) => n + end - start + 1, 0)).toBe(16384);
  }, 30_000);

  it('cli() rejects with stderr on a non-zero exit', async () => {
    await expect(cluster.cli(0, '--cluster', 'check', '127.0.0.1:1')).rejects.toThrow(/redis-cli .* failed/);
    await expect(cluster.cli(99, 'PING')).rejects.toThrow(/unknown node/);
  });

  it('stop() kills every redis-server it started and removes the temp dirs; it is idempotent', async () => {
    const pids = cluster.nodes.map((n) => n.pid);
    const dirs = cluster.nodes.map((n) => n.dir);
    expect(pids).toHaveLength(7);
    await cluster.stop();
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    await cluster.stop();
    await expect(cluster.addNode()).rejects.toThrow(/stopped/);
  }, 20_000);
});
