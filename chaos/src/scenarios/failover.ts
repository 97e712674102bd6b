import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { check, type Check, type Scenario } from '../types.js';
import { keyIn } from '../support/keyslot.js';
import { masterSlots, sleep } from '../support/redis-admin.js';
import { onSide, seconds, type Side } from '../support/sides.js';
import { clusterClient, Probe, readBack, Writers } from '../support/workload.js';

/**
 * `kill -9` of a master under write load, through the fleet and directly, each on a fresh cluster of
 * 3 masters × 1 replica: Redis promotes the replica; acknowledged writes lost, client errors and the
 * time until the dead master's slots take writes again are compared.
 */
export const failover: Scenario = {
  name: 'failover',
  title: 'Master failover (kill -9) under write load',
  async run(ctx) {
    const size = ctx.quick
      ? { workers: 8, warmMs: 1000, afterMs: 500, nodeTimeoutMs: 1000 }
      : { workers: 32, warmMs: 5000, afterMs: 5000, nodeTimeoutMs: 2000 };
    // Both clusters start together (the idle one costs little); the sides then run one after the other.
    const started = await Promise.allSettled([
      startCluster({ nodeTimeoutMs: size.nodeTimeoutMs }),
      startCluster({ nodeTimeoutMs: size.nodeTimeoutMs }),
    ]);
    const clusters = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const figures: Record<string, number | string | null> = {
        workers: size.workers,
        nodeTimeoutMs: size.nodeTimeoutMs,
      };
      const sides: Side[] = ['fleet', 'direct'];
      const r: Record<Side, Awaited<ReturnType<typeof oneSide>>> = {} as never;
      for (const [i, side] of sides.entries()) {
        r[side] = await oneSide(side, clusters[i]!, size, ctx.log);
        for (const [k, v] of Object.entries(r[side])) figures[`${side}.${k}`] = v;
      }
      const checks: Check[] = [
        check(
          'acknowledged writes lost through the fleet ≤ directly',
          r.fleet.lostWrites <= r.direct.lostWrites,
          `${r.fleet.lostWrites} vs ${r.direct.lostWrites}`,
        ),
        check(
          'client errors through the fleet ≤ 2 × direct + 20',
          r.fleet.errors <= 2 * r.direct.errors + 20,
          `${r.fleet.errors} vs ${r.direct.errors} (bound ${2 * r.direct.errors + 20})`,
        ),
        check(
          "the dead master's slots take writes again through the fleet",
          r.fleet.recoverySeconds !== null,
          `after ${r.fleet.recoverySeconds} s (direct ${r.direct.recoverySeconds} s)`,
        ),
      ];
      return { figures, checks };
    } finally {
      await Promise.all(clusters.map((c) => c.stop().catch(() => {})));
    }
  },
};

async function oneSide(
  side: Side,
  cluster: LocalCluster,
  size: { workers: number; warmMs: number; afterMs: number },
  log: (l: string) => void,
) {
  return onSide(side, cluster, async (addresses) => {
    const victim = cluster.masters()[0]!;
    const other = cluster.nodes.find((n) => n !== victim)!;
    const slots = (await masterSlots(`${other.host}:${other.port}`)).get(victim.id)!.slots;
    const client = clusterClient(addresses);
    try {
      await client.set(`${side}:warm`, '1');
      const writers = new Writers(client, { workers: size.workers, prefix: side });
      const probe = new Probe(client, keyIn(`${side}:probe`, slots));
      await sleep(size.warmMs);
      await cluster.killNode(victim);
      const tKill = performance.now();
      log(`${side}: killed master ${victim.port} (pid ${victim.pid}) after ${writers.tally.ops} requests`);
      const recoveryMs = await probe.waitSuccessAfter(tKill, 30_000);
      await sleep(size.afterMs);
      const tally = await writers.stop();
      await probe.stop();
      await cluster.waitHealthy(30_000);
      const live = cluster.nodes.filter((n) => n !== victim).map((n) => `${n.host}:${n.port}`);
      const loss = await readBack(live, tally);
      log(
        `${side}: ${tally.ops} requests, ${tally.errors.count} errors, lost ${loss.lost} ${loss.sample.join(' ')}; recovery ${seconds(recoveryMs)} s`,
      );
      return {
        requests: tally.ops,
        ackedWrites: tally.ackedKeys.length + [...tally.ackedIncrs.values()].reduce((a, b) => a + b, 0),
        lostWrites: loss.lost,
        lostIncrements: loss.lostIncrements,
        errors: tally.errors.count,
        errorMessages: tally.errors.top(),
        unsettled: tally.unsettled,
        recoverySeconds: seconds(recoveryMs),
      };
    } finally {
      client.disconnect();
    }
  });
}
