import { Fleet, fleetConfig, validateConfig } from '@slotrelay/host';
import { type Logger, type SlotrelayConfig, silentLogger } from '@slotrelay/core';
import { freePorts } from '@slotrelay/local-cluster';

export { freePorts };

export interface TestFleet {
  fleet: Fleet;
  ports: number[];
  config: SlotrelayConfig;
  stop(): Promise<void>;
}

/** Options of `startFleet`. */
export interface StartFleetOptions {
  seeds: string[];
  /** Number of proxies; default: one per Redis node (6). */
  count?: number;
  mappings?: 'dynamic' | 'static';
  /** Static mappings: every Redis node, in the order proxies are assigned. */
  nodes?: Array<{ host: string; port: number }>;
  middleware?: string[];
  log?: Logger;
  /** Edit the config before start. */
  edit?: (c: SlotrelayConfig) => void;
}

/** Start an in-process fleet on free loopback ports. */
export async function startFleet(o: StartFleetOptions): Promise<TestFleet> {
  const count = o.count ?? o.nodes?.length ?? 6;
  for (let attempt = 0; ; attempt++) {
    const ports = await freePorts(count);
    let config: SlotrelayConfig;
    if (o.mappings === 'static') {
      const nodes = o.nodes!;
      const members = nodes.map((n, i) => `${n.host}:${n.port}=127.0.0.1:${ports[i]}`);
      config = {
        connections: nodes.map((n, i) => ({
          name: `static-${i + 1}`,
          active: true,
          type: 'RedisCluster' as const,
          redisServers: [`${n.host}:${n.port}`],
          mappings: 'static' as const,
          clusterMembers: members,
          localAddress: '127.0.0.1',
          localPort: ports[i]!,
        })),
      };
    } else {
      config = fleetConfig(o.seeds, 0, count);
      config.connections.forEach((c, i) => {
        c.localPort = ports[i]!;
        c.clusterMembers = ports.map((p) => `127.0.0.1:${p}`);
      });
    }
    if (o.middleware) config.middleware = o.middleware;
    o.edit?.(config);
    config = validateConfig(config, {});
    try {
      const fleet = await Fleet.start(config, { log: o.log ?? silentLogger });
      return { fleet, ports, config, stop: () => fleet.stop(500) };
    } catch (e) {
      // Another test took one of the ports between probe and bind: try other ports.
      if (attempt < 5 && String((e as Error).message).includes('EADDRINUSE')) continue;
      throw e;
    }
  }
}
