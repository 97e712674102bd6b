/**
 * Reading the captured fixtures (see `fixtures/capture.ts`) and building the address maps and
 * topology stand-ins the tests run them against.
 */
import { readFileSync } from 'node:fs';
import { chunkings } from '@slotrelay/testkit';
import {
  AddressMap,
  type ClusterNode,
  type HostPort,
  type ListenerInfo,
  type Topology,
  type TopologyService,
  decodeReply,
  parseClusterNodes,
} from '@slotrelay/core/internal';
import type { FixtureEntry, FixtureManifest } from '../fixtures/capture.js';

export type { FixtureEntry };

const dir = new URL('../fixtures/', import.meta.url);

/** The raw bytes of a fixture file (path relative to `test/fixtures/`). */
export function fixture(file: string): Buffer {
  return readFileSync(new URL(file, dir));
}

/** `test/fixtures/manifest.json`. */
export const manifest: FixtureManifest = JSON.parse(fixture('manifest.json').toString('utf8')) as FixtureManifest;

/** The text of a CLUSTER NODES reply fixture (bulk or verbatim). */
export function nodesText(file: string): string {
  return decodeReply(fixture(file)).data!.toString('latin1');
}

/** The cluster of a capture set, as its CLUSTER NODES (from a master, RESP2) describes it. */
export function topologyOf(set: string): ClusterNode[] {
  return parseClusterNodes(nodesText(manifest.topology[set]!));
}

/** How the test proxies are addressed. */
export type ProxyStyle = 'ipv4' | 'ipv6' | 'dns';

/** Proxy `i` (0-based) in a style. None of them shares an IP, hostname or port with the fixtures' Redis nodes. */
export function proxyAddress(style: ProxyStyle, i: number): HostPort {
  const port = 6391 + i;
  if (style === 'ipv4') return { host: '127.199.0.1', port };
  if (style === 'ipv6') return { host: 'fd00:99::a1', port };
  return { host: `proxy-${i + 1}.slotrelay.test`, port };
}

/** Options of `mapFor`. */
export interface MapOptions {
  readonly style?: ProxyStyle;
  /** The node this proxy fronts (decides `upstream`, the asked host); default: the first by ID. */
  readonly askedId?: string;
  /** Members to provide (default: one per node, plus two spares). */
  readonly members?: number;
}

/** A dynamic `AddressMap` over `nodes`, as a slotrelay listener would build it. */
export function mapFor(nodes: readonly ClusterNode[], o: MapOptions = {}): AddressMap {
  const sorted = [...nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
  const instanceId = o.askedId ? sorted.findIndex((n) => n.id === o.askedId) + 1 : 1;
  const members = Array.from({ length: o.members ?? nodes.length + 2 }, (_, i) => proxyAddress(o.style ?? 'ipv4', i));
  const self = sorted[instanceId - 1] ?? sorted[0]!;
  const topology: Topology = { nodes, source: { host: self.ip, port: self.port }, at: 0 };
  return new AddressMap({ mode: 'dynamic', members, instanceId: Math.max(1, instanceId) }, topology);
}

/** A `TopologyService` stand-in: `current` is `map`; a rescan finds `next` (default: the same map again). */
export function stubTopology(map: AddressMap | null, next: () => AddressMap | null = () => map) {
  const stub = {
    current: map,
    scans: 0,
    reasons: [] as string[],
    fail: false,
    rescan: async (reason: string) => {
      stub.scans++;
      stub.reasons.push(reason);
      await new Promise((r) => setImmediate(r)); // asynchronous, as a real scan is
      if (stub.fail) throw new Error('no seed answered');
      stub.current = next();
      return stub.current!;
    },
  };
  return stub;
}

/** Let a stub rescan and the replies waiting on it settle (a few event-loop turns, no timers). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** The stub typed as what the middleware injects. */
export function asService(stub: ReturnType<typeof stubTopology>): TopologyService {
  return stub as unknown as TopologyService;
}

/** A listener description. */
export function listenerInfo(tls = false): ListenerInfo {
  return { name: 'test', host: '127.199.0.1', port: 6391, tls };
}

/** The CLUSTER NODES text of a set without the lines of `ids` (a map that has not seen those nodes yet). */
export function withoutNodes(text: string, ids: readonly string[]): string {
  return text
    .split('\n')
    .filter((l) => !ids.some((id) => l.startsWith(`${id} `)))
    .join('\n');
}

/**
 * What a fake socket received since the last call. Reads only the new chunks: concatenating the
 * whole output at every split would make split-everywhere tests quadratic.
 */
export function outputReader(sock: { chunks: Buffer[] }): () => Buffer {
  let seen = sock.chunks.length;
  return () => {
    const out = Buffer.concat(sock.chunks.slice(seen));
    seen = sock.chunks.length;
    return out;
  };
}

/**
 * `chunkings(bytes)` — whole, byte by byte, split at every boundary — or, with `every` > 1, only every
 * `every`-th split (for the larger exchanges whose every-boundary run is covered by another set).
 */
export function* someChunkings(bytes: Buffer, every: number): Generator<{ label: string; chunks: Buffer[] }> {
  for (const c of chunkings(bytes)) {
    const m = /^split at (\d+)$/.exec(c.label);
    if (m === null || Number(m[1]) % every === 0) yield c;
  }
}
