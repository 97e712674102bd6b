import { readFileSync } from 'node:fs';
import { startCluster } from '@slotrelay/local-cluster';
import { check, type Scenario } from '../types.js';
import { canRaiseNofile, Crowd, rssMB } from '../support/crowd.js';
import { keyIn } from '../support/keyslot.js';
import { fdCount, ProxyFleet } from '../support/proxies.js';
import { call, infoField, masterSlots, pollUntil } from '../support/redis-admin.js';
import { clusterClient } from '../support/workload.js';

/** The soft open-files limit of process `pid`, from /proc. */
function processNofile(pid: number): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m?.[1] === 'unlimited' ? 1 << 20 : Number(m?.[1]);
}

/**
 * As many raw TCP clients through one proxy as the machine's open-file limits allow (each one PING,
 * SET, GET, then idle), while a normal ioredis client keeps being served. What each client costs the
 * proxy (fds, memory) and Redis (connections), and that both return to their baseline afterwards.
 * The fleet only: straight to Redis a client costs one connection by definition.
 */
export const manyConnections: Scenario = {
  name: 'many-connections',
  title: 'Many concurrent clients through one proxy',
  async run(ctx) {
    const wanted = ctx.quick ? 1000 : 10_000;
    // Each client costs the proxy two fds (client + upstream) and this process one.
    const nofile = 2 * wanted + 1000;
    const cluster = await startCluster({ replicasPerMaster: 0 });
    let fleet: ProxyFleet | undefined;
    const crowd = new Crowd();
    const normal = { client: undefined as ReturnType<typeof clusterClient> | undefined };
    try {
      // Above the hard limit only with privileges; else the proxy runs with the hard limit (Node raises its soft limit itself).
      fleet = await ProxyFleet.start({
        seeds: cluster.seeds,
        count: cluster.nodes.length,
        ...(processNofile(process.pid) < nofile && canRaiseNofile(nofile) ? { nofile } : {}),
      });
      const pid = fleet.pid(0)!;
      const proxyLimit = processNofile(pid);
      const ownLimit = processNofile(process.pid);
      const clients = Math.min(wanted, Math.floor((proxyLimit - 200) / 2), ownLimit - 500);
      const nodeId = String(await call(fleet.addresses[0]!, ['CLUSTER', 'MYID']));
      const node = cluster.nodes.find((n) => n.id === nodeId)!;
      const nodeAddr = `${node.host}:${node.port}`;
      if (Number(((await call(nodeAddr, ['CONFIG', 'GET', 'maxclients'])) as string[])[1]) < clients + 500) {
        await call(nodeAddr, ['CONFIG', 'SET', 'maxclients', String(clients + 500)]);
      }
      const tag = keyIn('mc', (await masterSlots(nodeAddr)).get(nodeId)!.slots);

      const c = (normal.client = clusterClient(fleet.addresses));
      await c.set('normal', '0');
      const base = {
        fds: fdCount(pid),
        redis: Number(await infoField(nodeAddr, 'clients', 'connected_clients')),
        rss: rssMB(pid),
      };
      ctx.log(
        `baseline: proxy fds ${base.fds}, Redis connections ${base.redis}, RSS ${base.rss} MB; opening ${clients} clients (wanted ${wanted}; limits proxy ${proxyLimit}, here ${ownLimit})`,
      );

      const t0 = performance.now();
      await crowd.open(fleet.addresses[0]!, clients, (i) => `{${tag}}:${i}`, {
        parallel: 100,
        timeoutMs: 30_000,
        deadline: Date.now() + (ctx.quick ? 30_000 : 180_000),
      });
      const openSeconds = Math.round((performance.now() - t0) / 100) / 10;
      const during = {
        fds: fdCount(pid),
        redis: Number(await infoField(nodeAddr, 'clients', 'connected_clients')),
        rss: rssMB(pid),
      };
      let normalServed = true;
      let normalDetail = '20 SET/GET through the fleet';
      try {
        for (let i = 0; i < 20; i++) {
          await c.set('normal', String(i));
          if ((await c.get('normal')) !== String(i)) throw new Error(`read back ${i} failed`);
        }
      } catch (e) {
        normalServed = false;
        normalDetail = (e as Error).message;
      }
      ctx.log(
        `${crowd.served} of ${clients} served in ${openSeconds} s: proxy fds ${during.fds}, Redis connections ${during.redis}, RSS ${during.rss} MB`,
      );

      await crowd.close();
      let after = { fds: 0, redis: 0 };
      const back = await pollUntil(
        async () => {
          after = { fds: fdCount(pid), redis: Number(await infoField(nodeAddr, 'clients', 'connected_clients')) };
          return after.fds <= base.fds + 2 && after.redis <= base.redis + 2;
        },
        30_000,
        250,
      );
      const per = (x: number) => Math.round((x / Math.max(1, crowd.served)) * 100) / 100;
      const failures = [...crowd.failures]
        .map(([m, n]) => `${n}× ${m}`)
        .slice(0, 4)
        .join(' ; ');
      const figures = {
        clientsWanted: wanted,
        clients,
        'fleet.served': crowd.served,
        'fleet.failures': failures || 'none',
        'fleet.openSeconds': openSeconds,
        'fleet.proxyFdLimit': proxyLimit,
        'fleet.proxyFdsBaseline': base.fds,
        'fleet.proxyFdsConnected': during.fds,
        'fleet.proxyFdsPerClient': per(during.fds - base.fds),
        'fleet.proxyFdsAfter': after.fds,
        'fleet.redisConnectionsBaseline': base.redis,
        'fleet.redisConnectionsConnected': during.redis,
        'fleet.redisConnectionsPerClient': per(during.redis - base.redis),
        'fleet.redisConnectionsAfter': after.redis,
        'fleet.rssMBBaseline': base.rss,
        'fleet.rssMBConnected': during.rss,
        'fleet.rssKBPerClient': per((during.rss - base.rss) * 1024),
        'direct.redisConnectionsPerClient': 'n/a (1 by definition)',
      };
      const checks = [
        check('a normal client is served while they are connected', normalServed, normalDetail),
        check(
          'every client is served',
          crowd.served === clients,
          `${crowd.served} of ${clients}${failures ? `; ${failures}` : ''}`,
        ),
        check(
          'proxy fds and Redis connections return to baseline after they disconnect',
          back,
          `fds ${base.fds} → ${during.fds} → ${after.fds}, Redis connections ${base.redis} → ${during.redis} → ${after.redis}`,
        ),
      ];
      if (clients < wanted)
        ctx.log(
          `only ${clients} clients: open-files limits ${proxyLimit} (proxy) and ${ownLimit} (here); raising them needs privileges`,
        );
      return { figures, checks };
    } finally {
      await crowd.close();
      normal.client?.disconnect();
      await fleet?.stop();
      await cluster.stop();
    }
  },
};
