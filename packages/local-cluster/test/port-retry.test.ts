import net from 'node:net';
import { afterAll, expect, it, vi } from 'vitest';
import { startCluster } from '../src/index.js';

// Simulate losing a port race: the first port pair handed out passes the probe, but its bus port
// is taken right afterwards (as another vitest worker's redis-server would). The node must be
// restarted on other ports.
const state = vi.hoisted(() => ({ squatted: [] as number[], servers: [] as net.Server[] }));

vi.mock('../src/ports.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/ports.js')>();
  return {
    ...real,
    allocatePorts: async (host: string, count: number, withBus?: boolean): Promise<number[]> => {
      const ports = await real.allocatePorts(host, count, withBus);
      if (state.squatted.length === 0) {
        const bus = ports[0]! + real.BUS_PORT_OFFSET;
        const srv = net.createServer();
        await new Promise<void>((resolve) => srv.listen({ host, port: bus }, resolve));
        state.servers.push(srv);
        state.squatted.push(ports[0]!);
      }
      return ports;
    },
  };
});

afterAll(() => {
  for (const s of state.servers) s.close();
});

it('restarts a node on other ports when its bus port was taken after the probe', async () => {
  const lines: string[] = [];
  const cluster = await startCluster({ masters: 1, replicasPerMaster: 0, log: (l) => lines.push(l) });
  try {
    expect(state.squatted).toHaveLength(1);
    expect(lines.some((l) => l.includes(`port ${state.squatted[0]} was taken`))).toBe(true);
    expect(cluster.nodes).toHaveLength(1);
    expect(cluster.nodes[0]!.port).not.toBe(state.squatted[0]);
    expect((await cluster.cli(0, 'CLUSTER', 'INFO')).includes('cluster_state:ok')).toBe(true);
  } finally {
    await cluster.stop();
  }
}, 20_000);
