/**
 * Child process run inside the Redis namespace (`ip netns exec … node netns-cluster.js <ip> <masters> <replicas>`):
 * starts a local cluster bound to `<ip>`, prints one JSON line `{ type: 'ready', seeds, nodes }`,
 * and stops the cluster when its stdin closes (the parent ended or died) or on SIGTERM/SIGINT.
 *
 * Why a child rather than `startCluster` in the parent: local-cluster talks to its nodes over
 * sockets (port probes, readiness, health checks) as well as through redis-server and redis-cli,
 * and a socket of the root namespace cannot reach into another namespace. Running the whole
 * orchestration where the nodes live keeps local-cluster unchanged and the root namespace clean.
 */
import { startCluster, type LocalCluster } from '@slotrelay/local-cluster';

const [host = '', masters = '3', replicas = '1'] = process.argv.slice(2);
let cluster: LocalCluster | undefined;
let stopping = false;

// Registered before the cluster starts: a stop asked during the start must not orphan the nodes.
function stop(): void {
  if (stopping) return;
  stopping = true;
  // Still starting: process.exit runs local-cluster's exit handler, which SIGKILLs the nodes started so far.
  if (!cluster) process.exit(1);
  cluster.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`stop failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

try {
  cluster = await startCluster({
    host,
    masters: Number(masters),
    replicasPerMaster: Number(replicas),
    log: (line) => process.stderr.write(`${line}\n`),
  });
} catch (e) {
  process.stderr.write(`cannot start the cluster: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
const nodes = cluster.nodes.map((n) => ({ host: n.host, port: n.port, id: n.id, role: n.role, pid: n.pid }));
process.stdout.write(`${JSON.stringify({ type: 'ready', seeds: cluster.seeds, nodes })}\n`);
