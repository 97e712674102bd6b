import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { check, type Check, type Scenario } from '../types.js';
import { masterSlots, sleep } from '../support/redis-admin.js';
import { redisCli } from '../support/redis-cli.js';
import { onSide, seconds, type Side } from '../support/sides.js';
import { clusterClient, readBack, Writers } from '../support/workload.js';

/**
 * `redis-cli --cluster reshard` of many slots while ioredis writers run: given a proxy address
 * (redis-cli learns only proxies; MIGRATE names proxies, which the fleet maps back to Redis), and in
 * the same run given a Redis node, each on a fresh cluster.
 */
export const reshard: Scenario = {
  name: 'reshard',
  title: 'redis-cli --cluster reshard through a proxy under write load',
  async run(ctx) {
    const size = ctx.quick
      ? { slots: 300, workers: 8, replicas: 0, warmMs: 500 }
      : { slots: 1000, workers: 32, replicas: 1, warmMs: 3000 };
    const started = await Promise.allSettled([0, 1].map(() => startCluster({ replicasPerMaster: size.replicas })));
    const clusters = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const figures: Record<string, number | string | boolean | null> = { slots: size.slots, workers: size.workers };
      const r = {} as Record<Side, Awaited<ReturnType<typeof oneSide>>>;
      for (const [i, side] of (['fleet', 'direct'] as const).entries()) {
        r[side] = await oneSide(side, clusters[i]!, size, ctx.log);
        for (const [k, v] of Object.entries(r[side])) figures[`${side}.${k}`] = v;
      }
      const bound = r.direct.errors + 10;
      const checks: Check[] = [
        check(
          'the reshard through a proxy completes',
          r.fleet.completed,
          `redis-cli exit ${r.fleet.exitCode}, ${r.fleet.movedSlots} of ${size.slots} slots moved in Redis, ${r.fleet.reshardSeconds} s (direct: exit ${r.direct.exitCode}, ${r.direct.movedSlots}, ${r.direct.reshardSeconds} s)`,
        ),
        check(
          'no acknowledged write lost through the fleet',
          r.fleet.lostWrites === 0,
          `${r.fleet.lostWrites} lost (direct ${r.direct.lostWrites})`,
        ),
        check(
          'client errors through the fleet ≤ direct + 10',
          r.fleet.errors <= bound,
          `${r.fleet.errors} vs ${r.direct.errors}`,
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
  size: { slots: number; workers: number; warmMs: number },
  log: (l: string) => void,
) {
  return onSide(side, cluster, async (addresses) => {
    const seed = cluster.seeds[0]!;
    const before = [...(await masterSlots(seed))].sort((a, b) => a[1].slots[0]![0] - b[1].slots[0]![0]);
    const [from, to] = [before[0]![0], before[1]![0]];
    const count = (m: Map<string, { slots: Array<[number, number]> }>, id: string) =>
      (m.get(id)?.slots ?? []).reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
    const toBefore = count(new Map(before), to);
    const client = clusterClient(addresses);
    try {
      await client.set(`${side}:warm`, '1');
      const writers = new Writers(client, { workers: size.workers, prefix: side });
      await sleep(size.warmMs);
      const run = await redisCli(
        [
          '--cluster',
          'reshard',
          addresses[0]!,
          '--cluster-from',
          from,
          '--cluster-to',
          to,
          '--cluster-slots',
          String(size.slots),
          '--cluster-yes',
        ],
        600_000,
      );
      const tally = await writers.stop();
      const movedSlots = count(await masterSlots(seed), to) - toBefore;
      const loss = await readBack(cluster.seeds, tally);
      const moves = (run.stdout.match(/^Moving slot \d+ from/gm) ?? []).length;
      if (run.code !== 0)
        log(`${side}: redis-cli exit ${run.code}: ${run.stderr.slice(-500)} ${run.stdout.slice(-500)}`);
      log(
        `${side}: reshard ${seconds(run.ms)} s, ${moves} moves printed, ${movedSlots} slots moved; ${tally.ops} requests, ${tally.errors.count} errors, lost ${loss.lost} ${loss.sample.join(' ')}`,
      );
      return {
        exitCode: run.code ?? 'killed',
        completed: run.code === 0 && movedSlots === size.slots && moves === size.slots,
        movedSlots,
        reshardSeconds: seconds(run.ms),
        requests: tally.ops,
        lostWrites: loss.lost,
        errors: tally.errors.count,
        errorMessages: tally.errors.top(),
        unsettled: tally.unsettled,
      };
    } finally {
      client.disconnect();
    }
  });
}
