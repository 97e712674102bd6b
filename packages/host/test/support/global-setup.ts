import type { TestProject } from 'vitest/node';
import { startCluster, type LocalCluster } from '@slotrelay/local-cluster';

/** What e2e tests learn about the shared cluster (vitest `inject('cluster')`). */
export interface SharedCluster {
  seeds: string[];
  nodes: Array<{ host: string; port: number; id: string; role: 'master' | 'replica' }>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: SharedCluster;
  }
}

let cluster: LocalCluster | undefined;

/** One 6-node cluster (3 masters + 3 replicas) shared by every e2e file; each test uses its own key prefix. */
export async function setup(project: TestProject): Promise<void> {
  cluster = await startCluster();
  project.provide('cluster', {
    seeds: cluster.seeds,
    nodes: cluster.nodes.map((n) => ({ host: n.host, port: n.port, id: n.id, role: n.role })),
  });
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}
