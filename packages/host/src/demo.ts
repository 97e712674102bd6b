import type { LocalCluster } from '@slotrelay/local-cluster';
import type { Logger, SlotrelayConfig } from '@slotrelay/core';
import { ConfigError, validateConfig } from './config.js';
import { Fleet } from './fleet.js';
import { importOptional, installHint } from './optional.js';

/** A running demo: a local Redis Cluster and a fleet in front of it. */
export interface Demo {
  readonly cluster: LocalCluster;
  readonly fleet: Fleet;
  readonly config: SlotrelayConfig;
  stop(): Promise<void>;
}

/** The config of a dynamic fleet of `count` listeners on `host:basePort…` in front of `seeds`. */
export function fleetConfig(
  seeds: readonly string[],
  basePort: number,
  count: number,
  host = '127.0.0.1',
): SlotrelayConfig {
  const bracket = host.includes(':') ? `[${host}]` : host;
  const members = Array.from({ length: count }, (_, i) => `${bracket}:${basePort + i}`);
  return {
    connections: members.map((_, i) => ({
      name: `proxy-${i + 1}`,
      active: true,
      type: 'RedisCluster' as const,
      redisServers: [...seeds],
      mappings: 'dynamic' as const,
      clusterMembers: members,
      instanceId: i + 1,
      localAddress: host,
      localPort: basePort + i,
    })),
  };
}

/**
 * Start a 6-node Redis Cluster (3 masters, 3 replicas) on free loopback ports and a six-listener
 * fleet in front of it on `basePort…basePort+5`, with metrics and health on 127.0.0.1:`metricsPort`
 * when given. `stop()` ends both.
 */
export async function startDemo(basePort: number, log: Logger, metricsPort?: number): Promise<Demo> {
  // A development tool, not a runtime dependency of the proxy: present in the repository.
  const localCluster = await importOptional<typeof import('@slotrelay/local-cluster')>('@slotrelay/local-cluster');
  if (!localCluster)
    throw new ConfigError(`demo needs @slotrelay/local-cluster ${installHint('@slotrelay/local-cluster')}`);
  const cluster = await localCluster.startCluster();
  try {
    const config = validateConfig({
      ...fleetConfig(cluster.seeds.slice(0, 2), basePort, cluster.nodes.length),
      ...(metricsPort === undefined ? {} : { metrics: { address: '127.0.0.1', port: metricsPort } }),
    });
    const fleet = await Fleet.start(config, { log });
    return {
      cluster,
      fleet,
      config,
      stop: async () => {
        await fleet.stop(1000);
        await cluster.stop();
      },
    };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}
