import type { RespValue } from './resp-client.js';

/** One line of CLUSTER NODES, reduced to what the health checks need. */
export interface NodesLine {
  id: string;
  flags: string[];
  /** Master ID for a replica, `-` for a master. */
  masterId: string;
  /** Number of slots the node owns (migrating/importing markers ignored). */
  slotCount: number;
}

/** Parses `key:value` lines (CLUSTER INFO, INFO sections). */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** Parses CLUSTER NODES output. */
export function parseClusterNodes(text: string): NodesLine[] {
  const out: NodesLine[] = [];
  for (const raw of text.split('\n')) {
    const parts = raw.trim().split(' ');
    if (parts.length < 8) continue;
    let slotCount = 0;
    for (const s of parts.slice(8)) {
      if (s.startsWith('[')) continue;
      const dash = s.indexOf('-');
      slotCount += dash < 0 ? 1 : Number(s.slice(dash + 1)) - Number(s.slice(0, dash)) + 1;
    }
    out.push({ id: parts[0]!, flags: parts[2]!.split(','), masterId: parts[3]!, slotCount });
  }
  return out;
}

/** A slot range of CLUSTER SLOTS with the node IDs serving it. */
export interface SlotRange {
  start: number;
  end: number;
  masterId: string;
  replicaIds: string[];
}

/** Decodes a CLUSTER SLOTS reply (RESP2) into ranges, sorted by start slot; replica IDs sorted. */
export function parseClusterSlots(reply: RespValue): SlotRange[] {
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS: unexpected reply ${JSON.stringify(reply)}`);
  const ranges: SlotRange[] = [];
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3)
      throw new Error(`CLUSTER SLOTS: unexpected entry ${JSON.stringify(entry)}`);
    const ids = entry.slice(2).map((n) => (Array.isArray(n) ? String(n[2]) : '?'));
    ranges.push({ start: Number(entry[0]), end: Number(entry[1]), masterId: ids[0]!, replicaIds: ids.slice(1).sort() });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** A canonical string of the slot map, equal on two nodes exactly when they agree. */
export function slotMapKey(ranges: readonly SlotRange[]): string {
  return ranges.map((r) => `${r.start}-${r.end}:${r.masterId}[${r.replicaIds.join(',')}]`).join(' ');
}

/** Number of slots covered by the ranges. */
export function coveredSlots(ranges: readonly SlotRange[]): number {
  return ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
}

/** True when the node is flagged as failed, unreachable or still in handshake. */
export function isGone(line: NodesLine): boolean {
  return line.flags.some((f) => f === 'fail' || f === 'noaddr' || f === 'handshake');
}
