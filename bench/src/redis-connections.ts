/**
 * How many connections a contender opens to each Redis node, two ways, both polled while a load
 * runs (highest value kept):
 * - Redis's side: `connected_clients` of `INFO clients` on every node minus a baseline taken just
 *   before the load (each poll is one short connection per node, in the baseline and every sample
 *   alike). Counts what the load added, so a proxy's connections opened before it (a persistent
 *   pool) are not in it.
 * - The proxy's side: its established TCP sockets whose remote port is a node's, from
 *   /proc/<pid>/fd and /proc/<pid>/net/tcp{,6}: every connection it holds, pooled or not.
 */
import fs from 'node:fs';
import { sleep } from './child.js';
import { query } from './discovery-check.js';

/** connected_clients of one node, or NaN when it does not answer. */
async function connectedClients(port: number): Promise<number> {
  try {
    const [reply] = await query(port, [['INFO', 'clients']], 2000);
    const m = /^connected_clients:(\d+)/m.exec(reply?.data?.toString('utf8') ?? '');
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function sampleAll(ports: readonly number[]): Promise<number[]> {
  return Promise.all(ports.map(connectedClients));
}

/**
 * The baseline: sampled until two samples 300 ms apart agree (connections of the previous run may
 * still be closing), at most ~3 s; the lower of the last two per node.
 */
export async function connectionBaseline(ports: readonly number[]): Promise<number[]> {
  let prev = await sampleAll(ports);
  for (let i = 0; i < 10; i++) {
    await sleep(300);
    const next = await sampleAll(ports);
    const same = next.every((x, j) => x === prev[j]);
    prev = next.map((x, j) => Math.min(x, prev[j]!));
    if (same) break;
  }
  return prev;
}

/**
 * Established TCP connections of process `pid` to each of `ports` on the loopback (the bench's
 * Redis nodes), by socket inode: /proc/<pid>/fd links `socket:[inode]`, /proc/<pid>/net/tcp{,6}
 * lists state (01 = ESTABLISHED), remote address and inode. NaN per port when /proc is unreadable.
 */
export function heldConnections(pid: number, ports: readonly number[]): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return ports.map(() => NaN);
  }
  const index = new Map(ports.map((p, j) => [p, j]));
  const out = ports.map(() => 0);
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9]!)) continue;
      const j = index.get(parseInt(f[2]!.slice(f[2]!.lastIndexOf(':') + 1), 16));
      if (j !== undefined) out[j]!++;
    }
  }
  return out;
}

export interface ConnectionPeaks {
  /** Highest connected_clients per node. */
  redis: number[];
  /** Highest count of the proxy's own connections per node (null without a proxy PID). */
  held: number[] | null;
}

/**
 * Polls every `intervalMs` until `stop()` (or `maxMs` at the latest); resolves with the highest
 * sample per node. `pid`: also count that proxy's own connections to each node.
 */
export function pollConnections(
  ports: readonly number[],
  pid: number | undefined,
  intervalMs = 200,
  maxMs = 30 * 60_000,
): { stop: () => Promise<ConnectionPeaks> } {
  const max = ports.map(() => 0);
  const held = pid === undefined ? null : ports.map(() => 0);
  let running = true;
  const deadline = Date.now() + maxMs;
  const loop = (async () => {
    while (running && Date.now() < deadline) {
      const xs = await sampleAll(ports);
      xs.forEach((x, j) => {
        if (Number.isFinite(x)) max[j] = Math.max(max[j]!, x);
      });
      if (held && pid !== undefined)
        heldConnections(pid, ports).forEach((x, j) => {
          if (Number.isFinite(x)) held[j] = Math.max(held[j]!, x);
        });
      if (running) await sleep(intervalMs);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { redis: max, held };
    },
  };
}
