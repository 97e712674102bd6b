import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type LocalCluster } from '../src/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function clusterState(cluster: LocalCluster, i: number): Promise<string> {
  return /cluster_state:(\w+)/.exec(await cluster.cli(i, 'CLUSTER', 'INFO'))?.[1] ?? '?';
}

describe('killNode / restartNode: a master without replica goes down and rejoins', () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 0, nodeTimeoutMs: 1000 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('kill -9 stops the process by PID, the others see the cluster fail; restart brings the same node ID back and the cluster heals', async () => {
    const victim = cluster.nodes[1]!;
    const { id, pid, port } = victim;
    await cluster.killNode(1);
    expect(alive(pid)).toBe(false);
    await expect.poll(() => clusterState(cluster, 0), { timeout: 15_000, interval: 200 }).toBe('fail');

    const back = await cluster.restartNode(1);
    expect(back).toBe(victim);
    expect(back.pid).not.toBe(pid);
    expect(alive(back.pid)).toBe(true);
    expect(back.port).toBe(port);
    expect((await cluster.cli(1, 'CLUSTER', 'MYID')).trim()).toBe(id);
    await cluster.waitHealthy(30_000);
    expect(await clusterState(cluster, 0)).toBe('ok');
    await expect(cluster.restartNode(1)).rejects.toThrow(/is running/);
  }, 60_000);
});
