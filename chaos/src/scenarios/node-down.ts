import { type ClusterNode, type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { check, type Check, type Scenario } from '../types.js';
import { proxyOfNode } from '../support/fleet-map.js';
import { keyIn } from '../support/keyslot.js';
import { RawConn, rawOnce, type RawOutcome } from '../support/raw.js';
import { masterSlots, sleep } from '../support/redis-admin.js';
import { onSide, seconds, type Side } from '../support/sides.js';
import { clusterClient, Writers } from '../support/workload.js';

/**
 * A master without replica dies (`kill -9`): the cluster goes down. Every request of raw clients
 * (fresh connections and connections opened before) and of ioredis must settle — a reply, an error
 * or a close — within 5 s + node timeout, never hang. Then the same redis-server comes back with its
 * nodes.conf, and the fleet must serve again by itself. Fleet and direct, each on a fresh cluster of
 * 3 masters × 0 replicas.
 */
export const nodeDown: Scenario = {
  name: 'node-down',
  title: 'Redis node down without replica (cluster down), then back',
  async run(ctx) {
    const size = ctx.quick
      ? { nodeTimeoutMs: 1000, downMs: 3000, workers: 4 }
      : { nodeTimeoutMs: 2000, downMs: 15_000, workers: 16 };
    const boundMs = 5000 + size.nodeTimeoutMs;
    const started = await Promise.allSettled(
      [0, 1].map(() => startCluster({ replicasPerMaster: 0, nodeTimeoutMs: size.nodeTimeoutMs })),
    );
    const clusters = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const figures: Record<string, number | string | null> = {
        nodeTimeoutMs: size.nodeTimeoutMs,
        downSeconds: size.downMs / 1000,
        boundSeconds: boundMs / 1000,
      };
      const r = {} as Record<Side, Awaited<ReturnType<typeof oneSide>>>;
      for (const [i, side] of (['fleet', 'direct'] as const).entries()) {
        r[side] = await oneSide(side, clusters[i]!, { ...size, boundMs }, ctx.log);
        for (const [k, v] of Object.entries(r[side])) figures[`${side}.${k}`] = v;
      }
      const f = r.fleet;
      const checks: Check[] = [
        check(
          `every raw request through the fleet settles within ${boundMs / 1000} s`,
          f.rawHung === 0,
          `${f.rawRequests} requests, ${f.rawHung} unanswered, slowest ${f.rawMaxSeconds} s; outcomes ${f.rawOutcomes} (direct: ${r.direct.rawHung} unanswered, slowest ${r.direct.rawMaxSeconds} s)`,
        ),
        check(
          `every ioredis request through the fleet settles within ${boundMs / 1000} s`,
          f.unsettled === 0 && f.ioredisMaxSeconds * 1000 <= boundMs,
          `${f.requests} requests, ${f.unsettled} unsettled, slowest ${f.ioredisMaxSeconds} s (direct ${r.direct.ioredisMaxSeconds} s)`,
        ),
        check(
          'the fleet serves the node again by itself after it returns',
          f.recoverySeconds !== null,
          `${f.recoverySeconds} s after the restart (direct ${r.direct.recoverySeconds} s)`,
        ),
        check(
          'fleet recovery ≤ direct + 5 s',
          f.recoverySeconds !== null &&
            r.direct.recoverySeconds !== null &&
            f.recoverySeconds <= r.direct.recoverySeconds + 5,
          `${f.recoverySeconds} vs ${r.direct.recoverySeconds} s`,
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
  size: { downMs: number; workers: number; boundMs: number },
  log: (l: string) => void,
) {
  return onSide(side, cluster, async (addresses, fleet) => {
    const victim = cluster.masters()[0]!;
    const slotsOf = await masterSlots(cluster.seeds[0]!);
    // The address clients use for each master: its proxy, or the node itself.
    const proxyIndex = fleet ? await proxyOfNode(fleet) : undefined;
    const addressOf = (n: ClusterNode) => (proxyIndex ? addresses[proxyIndex.get(n.id)!]! : `${n.host}:${n.port}`);
    const targets = cluster
      .masters()
      .map((n) => ({ address: addressOf(n), key: keyIn(`${side}:nd:${n.port}`, slotsOf.get(n.id)!.slots) }));
    const victimTarget = targets[0]!;

    const client = clusterClient(addresses);
    const held: RawConn[] = [];
    try {
      await client.set(`${side}:warm`, '1');
      // Connections opened before the fault, one per master address, kept (and reopened once closed) during it.
      for (const t of targets) held.push(await RawConn.connect(t.address));
      const writers = new Writers(client, { workers: size.workers, prefix: side });
      await sleep(300);
      await cluster.killNode(victim);
      log(`${side}: killed master ${victim.port} (pid ${victim.pid}), no replica`);

      const outcomes: RawOutcome[] = [];
      const downUntil = Date.now() + size.downMs;
      while (Date.now() < downUntil) {
        const round = targets.flatMap((t, i) => [
          rawOnce(t.address, ['SET', t.key, 'v'], size.boundMs),
          (async () => {
            if (held[i]!.closed) held[i] = await RawConn.connect(t.address, size.boundMs).catch(() => held[i]!);
            return held[i]!.request(['SET', t.key, 'v'], size.boundMs);
          })(),
        ]);
        outcomes.push(...(await Promise.all(round)));
        await sleep(200);
      }
      const tally = await writers.stop(size.boundMs);

      await cluster.restartNode(victim);
      const tRestart = performance.now();
      log(`${side}: restarted ${victim.port} (pid ${victim.pid})`);
      let recoveryMs: number | null = null;
      while (performance.now() - tRestart < 60_000) {
        const o = await rawOnce(victimTarget.address, ['SET', victimTarget.key, 'back'], size.boundMs);
        if (o.kind === 'reply' && o.text === '+OK') {
          recoveryMs = performance.now() - tRestart;
          break;
        }
        await sleep(100);
      }
      const kinds = new Map<string, number>();
      for (const o of outcomes) {
        const k = o.kind === 'reply' ? o.text.slice(0, 60) : o.kind === 'error' ? `error ${o.text}` : o.kind;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      const rawHung = outcomes.filter((o) => o.kind === 'timeout').length;
      const rawMax = Math.max(0, ...outcomes.map((o) => o.ms));
      log(
        `${side}: raw ${outcomes.length} (${rawHung} hung, slowest ${seconds(rawMax)} s), ioredis ${tally.ops} (${tally.unsettled} unsettled, slowest ${seconds(tally.maxMs)} s); recovery ${seconds(recoveryMs)} s`,
      );
      return {
        rawRequests: outcomes.length,
        rawHung,
        rawMaxSeconds: seconds(rawMax)!,
        rawOutcomes: [...kinds]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([k, n]) => `${n}× ${k}`)
          .join(' ; '),
        requests: tally.ops,
        errors: tally.errors.count,
        errorMessages: tally.errors.top(),
        unsettled: tally.unsettled,
        ioredisMaxSeconds: seconds(tally.maxMs)!,
        recoverySeconds: seconds(recoveryMs),
      };
    } finally {
      for (const h of held) h.close();
      client.disconnect();
    }
  });
}
