import { startCluster } from '@slotrelay/local-cluster';
import { check, type Scenario } from '../types.js';
import { proxyOfNode } from '../support/fleet-map.js';
import { keyIn } from '../support/keyslot.js';
import { ProxyFleet } from '../support/proxies.js';
import { masterSlots, sleep } from '../support/redis-admin.js';
import { seconds } from '../support/sides.js';
import { clusterClient, Probe, readBack, Writers } from '../support/workload.js';

/**
 * `kill -9` of the proxy in front of a master while ioredis writers run through the fleet, then the
 * same proxy started again: how long until its slots take writes again, and no acknowledged write
 * lost (a proxy holds no data). There is no direct side: Redis itself is untouched.
 */
export const proxyKill: Scenario = {
  name: 'proxy-kill',
  title: 'Proxy process killed (kill -9) and restarted under write load',
  async run(ctx) {
    const size = ctx.quick
      ? { workers: 8, warmMs: 1000, downMs: 1000, afterMs: 500, replicas: 0 }
      : { workers: 32, warmMs: 5000, downMs: 5000, afterMs: 5000, replicas: 1 };
    // Replicas change nothing for a proxy's death; quick runs go without them (half the processes to start).
    const cluster = await startCluster({ replicasPerMaster: size.replicas });
    let fleet: ProxyFleet | undefined;
    const client = { current: undefined as ReturnType<typeof clusterClient> | undefined };
    try {
      fleet = await ProxyFleet.start({ seeds: cluster.seeds, count: cluster.nodes.length });
      const master = cluster.masters()[0]!;
      const victim = (await proxyOfNode(fleet)).get(master.id)!;
      const slots = (await masterSlots(cluster.seeds[0]!)).get(master.id)!.slots;
      const c = (client.current = clusterClient(fleet.addresses));
      await c.set('warm', '1');
      const writers = new Writers(c, { workers: size.workers, prefix: 'pk' });
      const probe = new Probe(c, keyIn('pk:probe', slots));
      await sleep(size.warmMs);
      await fleet.kill(victim);
      ctx.log(
        `killed proxy ${fleet.addresses[victim]} (fronting master ${master.port}) after ${writers.tally.ops} requests`,
      );
      await sleep(size.downMs);
      // Timed from the restart command: a proxy's own start (Node, config, listen) is part of the outage.
      const tRestart = performance.now();
      await fleet.startOne(victim);
      const listeningMs = performance.now() - tRestart;
      const recoveryMs = await probe.waitSuccessAfter(tRestart, 30_000);
      await sleep(size.afterMs);
      const tally = await writers.stop();
      await probe.stop();
      const loss = await readBack(cluster.seeds, tally);
      ctx.log(
        `${tally.ops} requests, ${tally.errors.count} errors, lost ${loss.lost} ${loss.sample.join(' ')}; recovery ${seconds(recoveryMs)} s`,
      );
      const figures = {
        workers: size.workers,
        proxyDownSeconds: size.downMs / 1000,
        'fleet.requests': tally.ops,
        'fleet.lostWrites': loss.lost,
        'fleet.errors': tally.errors.count,
        'fleet.errorMessages': tally.errors.top(),
        'fleet.unsettled': tally.unsettled,
        'fleet.recoverySeconds': seconds(recoveryMs),
        'fleet.restartListeningSeconds': seconds(listeningMs),
        'direct.lostWrites': 'n/a',
        'direct.errors': 'n/a',
      };
      const checks = [
        check(
          'no acknowledged write lost',
          loss.lost === 0,
          `${loss.lost} lost of ${tally.ackedKeys.length} SETs and ${[...tally.ackedIncrs.values()].reduce((a, b) => a + b, 0)} INCRs ${loss.sample.join(' ')}`,
        ),
        check(
          "the restarted proxy's slots take writes again",
          recoveryMs !== null,
          `${seconds(recoveryMs)} s after the restart`,
        ),
        check('no request left unanswered', tally.unsettled === 0, `${tally.unsettled} unsettled`),
      ];
      return { figures, checks };
    } finally {
      client.current?.disconnect();
      await fleet?.stop();
      await cluster.stop();
    }
  },
};
