import type { RunningNode } from './node-process.js';
import { RespError, sendCommands, type RespValue } from './resp-client.js';
import {
  coveredSlots,
  isGone,
  parseClusterNodes,
  parseClusterSlots,
  parseInfo,
  slotMapKey,
  type NodesLine,
  type SlotRange,
} from './cluster-state.js';
import { childRunning } from './process-registry.js';
import { tailFile } from './log-tail.js';

/** Total number of hash slots in a Redis Cluster. */
export const SLOT_COUNT = 16384;

interface Snapshot {
  rn: RunningNode;
  addr: string;
  info: Map<string, string>;
  nodes: NodesLine[];
  myself: NodesLine;
  slots: SlotRange[];
  replication: Map<string, string>;
}

function addrOf(rn: RunningNode): string {
  return rn.node.host.includes(':') ? `[${rn.node.host}]:${rn.endpoint.port}` : `${rn.node.host}:${rn.endpoint.port}`;
}

function text(v: RespValue | undefined, what: string): string {
  if (v instanceof RespError) throw new Error(`${what}: ${v.message}`);
  if (typeof v !== 'string') throw new Error(`${what}: unexpected reply ${JSON.stringify(v)}`);
  return v;
}

async function snapshot(rn: RunningNode): Promise<Snapshot> {
  const [info, nodes, slots, repl] = await sendCommands(
    rn.endpoint,
    [
      ['CLUSTER', 'INFO'],
      ['CLUSTER', 'NODES'],
      ['CLUSTER', 'SLOTS'],
      ['INFO', 'replication'],
    ],
    3000,
  );
  const lines = parseClusterNodes(text(nodes, 'CLUSTER NODES'));
  const myself = lines.find((l) => l.flags.includes('myself'));
  if (!myself) throw new Error('CLUSTER NODES has no myself line');
  if (slots instanceof RespError) throw new Error(`CLUSTER SLOTS: ${slots.message}`);
  return {
    rn,
    addr: addrOf(rn),
    info: parseInfo(text(info, 'CLUSTER INFO')),
    nodes: lines,
    myself,
    slots: parseClusterSlots(slots ?? null),
    replication: parseInfo(text(repl, 'INFO replication')),
  };
}

/** Copies ID and role from a node's own CLUSTER NODES line into its public record. */
function refresh(s: Snapshot): void {
  s.rn.node.id = s.myself.id;
  s.rn.node.role = s.myself.flags.includes('slave') ? 'replica' : 'master';
}

/**
 * One health probe over all running nodes. Returns true when healthy, else a description of what
 * is still wrong. Updates each reachable node's `id` and `role` as a side effect.
 */
export async function checkHealth(all: readonly RunningNode[]): Promise<true | string> {
  const running = all.filter((rn) => childRunning(rn.child));
  if (running.length === 0) return 'no redis-server of this cluster is running';
  const problems: string[] = [];
  const results = await Promise.allSettled(running.map(snapshot));
  const snaps: Snapshot[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      refresh(r.value);
      snaps.push(r.value);
    } else {
      problems.push(`${addrOf(running[i]!)}: ${(r.reason as Error).message}`);
    }
  });
  // A node that knows only itself and owns no slots has not joined any cluster yet: not checked.
  const members = snaps.filter((s) => s.nodes.length > 1 || s.myself.slotCount > 0);
  if (members.length === 0 && problems.length === 0) return 'no node has joined a cluster';

  const slotMaps = new Map<string, string[]>();
  const knownSets = new Map<string, string[]>();
  for (const s of members) {
    const state = s.info.get('cluster_state');
    if (state !== 'ok') problems.push(`${s.addr}: cluster_state:${state ?? '?'}`);
    const covered = coveredSlots(s.slots);
    if (covered !== SLOT_COUNT) problems.push(`${s.addr}: CLUSTER SLOTS covers ${covered} of ${SLOT_COUNT} slots`);

    if (s.myself.flags.includes('slave')) {
      const link = s.replication.get('master_link_status');
      const offset = Number(s.replication.get('slave_repl_offset') ?? '0');
      if (link !== 'up') problems.push(`${s.addr}: replica master_link_status:${link ?? '?'}`);
      else if (!(offset > 0))
        problems.push(`${s.addr}: replica slave_repl_offset:${offset} (not in CLUSTER SLOTS until > 0)`);
    }

    // Every healthy master with slots and each of its healthy replicas must be listed in CLUSTER SLOTS.
    const masters = new Set(
      s.nodes.filter((l) => l.flags.includes('master') && !isGone(l) && l.slotCount > 0).map((l) => l.id),
    );
    const expected = new Set(masters);
    for (const l of s.nodes) if (l.flags.includes('slave') && !isGone(l) && masters.has(l.masterId)) expected.add(l.id);
    const listed = new Set(s.slots.flatMap((r) => [r.masterId, ...r.replicaIds]));
    const missing = [...expected].filter((id) => !listed.has(id));
    if (missing.length > 0) {
      problems.push(
        `${s.addr}: CLUSTER SLOTS lacks ${missing.map((id) => id.slice(0, 8)).join(', ')} (${listed.size} of ${expected.size} nodes)`,
      );
    }

    const slotKey = slotMapKey(s.slots);
    slotMaps.set(slotKey, [...(slotMaps.get(slotKey) ?? []), s.addr]);
    const known = s.nodes
      .filter((l) => !l.flags.includes('handshake'))
      .map((l) => l.id)
      .sort()
      .join(',');
    knownSets.set(known, [...(knownSets.get(known) ?? []), s.addr]);
  }
  if (slotMaps.size > 1) problems.push(`nodes disagree on the slot map (${slotMaps.size} different views)`);
  if (knownSets.size > 1) {
    const sizes = [...knownSets.entries()].map(([k, addrs]) => `${addrs.join(' ')} know ${k.split(',').length}`);
    problems.push(`nodes disagree on the cluster members: ${sizes.join('; ')}`);
  }
  return problems.length === 0 ? true : problems.join('; ');
}

/** Log tails of every node, for timeout messages. */
export async function logTails(all: readonly RunningNode[], lines = 8): Promise<string> {
  const parts = await Promise.all(
    all.map(
      async (rn) =>
        `--- ${addrOf(rn)} pid ${rn.node.pid}${childRunning(rn.child) ? '' : ' (exited)'}: ${rn.logFile} ---\n${await tailFile(rn.logFile, lines)}`,
    ),
  );
  return parts.join('\n');
}
