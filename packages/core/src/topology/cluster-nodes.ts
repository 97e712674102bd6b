import { SlotrelayError } from '../errors.js';
import type { HostPort } from './address.js';

/** One node as described by a line of CLUSTER NODES. */
export interface ClusterNode {
  /** 40 hex characters (handshake nodes have temporary random IDs). */
  readonly id: string;
  /** Announced or detected IP; may be empty (a fresh node, a `noaddr` node). IPv6 bare. */
  ip: string;
  /** Client port as this connection was told (plaintext or TLS, see WIRE.md). 0 when unknown. */
  port: number;
  /** Cluster bus port. */
  readonly cport: number;
  /** Announced hostname (Redis 7+), '' when none. */
  readonly hostname: string;
  /** The TLS port when known from CLUSTER SHARDS (`tls-port`), else 0. */
  tlsPort: number;
  /** The plaintext port when known from CLUSTER SHARDS (`port`), else 0. */
  tcpPort: number;
  readonly flags: readonly string[];
  readonly myself: boolean;
  readonly role: 'master' | 'replica' | 'unknown';
  /** For a replica, its master's ID. */
  readonly masterId: string | null;
  readonly pingSent: number;
  readonly pongRecv: number;
  readonly configEpoch: number;
  readonly connected: boolean;
  /** Served slot ranges, inclusive. */
  readonly slots: ReadonlyArray<readonly [number, number]>;
  /** `[slot->-id]` markers (only on the myself line). */
  readonly migrating: ReadonlyArray<{ slot: number; nodeId: string }>;
  /** `[slot-<-id]` markers (only on the myself line). */
  readonly importing: ReadonlyArray<{ slot: number; nodeId: string }>;
}

/**
 * Parses the text of a CLUSTER NODES reply (or one CLUSTER REPLICAS line), following
 * `clusterGenNodeDescription`: the address is `ip:port@cport[,hostname]`, split at the last `@` and
 * then the last `:` so bare IPv6 works. Throws a `SlotrelayError` on a line it cannot read.
 */
export function parseClusterNodes(text: string): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    nodes.push(parseClusterNodeLine(line));
  }
  return nodes;
}

/** Parses one CLUSTER NODES line. */
export function parseClusterNodeLine(line: string): ClusterNode {
  const f = line.split(' ');
  if (f.length < 8)
    throw new SlotrelayError(
      'SR_ERR_TOPOLOGY',
      `CLUSTER NODES line has ${f.length} fields, expected at least 8: '${line}'`,
    );
  const [id, addr, flagText, master, ping, pong, epoch, link] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const a = parseNodeAddress(addr);
  const flags = flagText === 'noflags' ? [] : flagText.split(',');
  const slots: Array<[number, number]> = [];
  const migrating: Array<{ slot: number; nodeId: string }> = [];
  const importing: Array<{ slot: number; nodeId: string }> = [];
  for (const s of f.slice(8)) {
    if (s.startsWith('[')) {
      const m = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(s);
      if (!m) continue;
      (m[2] === '>' ? migrating : importing).push({ slot: Number(m[1]), nodeId: m[3]! });
      continue;
    }
    const dash = s.indexOf('-');
    const lo = Number(dash < 0 ? s : s.slice(0, dash));
    const hi = dash < 0 ? lo : Number(s.slice(dash + 1));
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) continue;
    slots.push([lo, hi]);
  }
  return {
    id,
    ip: a.ip,
    port: a.port,
    cport: a.cport,
    hostname: a.hostname,
    tlsPort: 0,
    tcpPort: 0,
    flags,
    myself: flags.includes('myself'),
    role: flags.includes('master') ? 'master' : flags.includes('slave') ? 'replica' : 'unknown',
    masterId: master === '-' ? null : master,
    pingSent: Number(ping),
    pongRecv: Number(pong),
    configEpoch: Number(epoch),
    connected: link === 'connected',
    slots,
    migrating,
    importing,
  };
}

/** Splits `ip:port@cport[,hostname[,aux=…]]`. */
export function parseNodeAddress(addr: string): { ip: string; port: number; cport: number; hostname: string } {
  const parts = addr.split(',');
  const main = parts[0]!;
  const hostname = parts[1] !== undefined && !parts[1].includes('=') ? parts[1].toLowerCase() : '';
  const at = main.lastIndexOf('@');
  const hostPort = at < 0 ? main : main.slice(0, at);
  const cport = at < 0 ? 0 : Number(main.slice(at + 1));
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) throw new SlotrelayError('SR_ERR_TOPOLOGY', `CLUSTER NODES address without a port: '${addr}'`);
  return { ip: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) || 0, cport: cport || 0, hostname };
}

/** Formats a node address the way CLUSTER NODES does: `ip:port@cport[,hostname]`. */
export function formatNodeAddress(ip: string, port: number, cport: number, hostname: string): string {
  return `${ip}:${port}@${cport}${hostname ? `,${hostname}` : ''}`;
}

/** The cluster as one node described it. */
export interface Topology {
  readonly nodes: readonly ClusterNode[];
  /** The node that answered. */
  readonly source: HostPort;
  /** When it answered (ms since epoch). */
  readonly at: number;
}
