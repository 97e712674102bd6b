import { type AddressMap, type RespNode, RespType } from '@slotrelay/core';
import type { NodeResolver } from './resolver.js';
import { numberOf, textOf } from './resp-values.js';

/**
 * Every Redis node endpoint an address map knows, for finding one in a reply whose shape is not a
 * known address-bearing one (a script's return value, CLIENT LIST). A node is known by its IP and its
 * announced hostname, each with its client port, TLS port and bus port: the bus port names the node
 * as surely as the client port does. The upstream node and static mapping entries count even before
 * a topology was read.
 *
 * It finds an endpoint written as Redis writes one — `host:port` (IPv6 bare or `[host]:port`),
 * INFO's `ip=host,port=p` and `master_host:host` / `master_port:p` — anywhere in a string, and a
 * host and one of its ports as neighbours in an array (ROLE, SLOTS entries) or in one map under a
 * port key (SHARDS entries).
 * A script that splits or encodes an address can still return it: see the README's Limits.
 */
export class NodeEndpoints {
  private static readonly cache = new WeakMap<AddressMap, NodeEndpoints>();
  private static readonly none = new NodeEndpoints(null);
  /** host → its ports (client, TLS, bus). */
  private readonly ports = new Map<string, Set<number>>();
  /** host → its client ports (plain and TLS): those a proxy stands in for. */
  private readonly clientPorts = new Map<string, Set<number>>();
  /** The hosts as bytes, for the quick search. */
  private readonly needles: Buffer[] = [];

  private constructor(map: AddressMap | null) {
    if (map === null) return;
    for (const n of map.nodes) {
      for (const host of [n.ip, n.hostname]) this.add(host, [n.port, n.tlsPort, n.tcpPort], n.cport);
    }
    // Known before any topology is: the node this proxy dials and, in static mappings, every entry.
    this.add(map.upstream.host, [map.upstream.port], 0);
    if (map.spec.mode === 'static') for (const e of map.spec.entries) this.add(e.redis.host, [e.redis.port], 0);
  }

  private add(host: string, clientPorts: readonly number[], busPort: number): void {
    if (host === '' || host === '?') return;
    let all = this.ports.get(host);
    let client = this.clientPorts.get(host);
    if (all === undefined || client === undefined) {
      all = new Set();
      client = new Set();
      this.ports.set(host, all);
      this.clientPorts.set(host, client);
      this.needles.push(Buffer.from(host, 'latin1'));
    }
    for (const p of clientPorts) {
      if (p <= 0) continue;
      client.add(p);
      all.add(p);
    }
    if (busPort > 0) all.add(busPort);
  }

  /** The endpoints of `map`'s nodes (built once per map). */
  static of(map: AddressMap | null): NodeEndpoints {
    if (map === null) return NodeEndpoints.none;
    let e = NodeEndpoints.cache.get(map);
    if (e === undefined) {
      e = new NodeEndpoints(map);
      NodeEndpoints.cache.set(map, e);
    }
    return e;
  }

  /**
   * The quick test, on raw reply bytes: false when no node host occurs in them at all, so the reply
   * cannot name an endpoint and need not be decoded.
   */
  mayName(bytes: Buffer): boolean {
    for (const n of this.needles) if (bytes.includes(n)) return true;
    return false;
  }

  /** True when the decoded value names a node endpoint anywhere in it. */
  namesEndpoint(node: RespNode): boolean {
    const text =
      textOf(node) ?? (node.type === RespType.Error || node.type === RespType.BlobError ? errorText(node) : null);
    if (text !== null && this.inText(text)) return true;
    if (node.attributes && this.inAggregate(node.attributes)) return true;
    return node.items ? this.inAggregate(node.items) : false;
  }

  /**
   * A host and its port as neighbours (`[ip, port, …]` of ROLE and SLOTS), or as values of one map
   * whose port key (`port`, `tls-port` …) holds one of the host's ports (SHARDS). Other numbers next
   * to a host (a replication offset) are not taken for ports.
   */
  private inAggregate(items: readonly RespNode[]): boolean {
    let hosts: string[] | null = null;
    let mapPorts: number[] | null = null;
    const mapLike = items.length % 2 === 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (this.namesEndpoint(item)) return true;
      const t = textOf(item);
      if (t !== null && this.ports.has(t)) {
        const next = numberOf(items[i + 1]);
        if (next !== null && this.ports.get(t)!.has(next)) return true;
        (hosts ??= []).push(t);
      }
      if (mapLike && i % 2 === 1 && /port/i.test(textOf(items[i - 1]) ?? '')) {
        const n = numberOf(item);
        if (n !== null) (mapPorts ??= []).push(n);
      }
    }
    if (hosts === null || mapPorts === null) return false;
    return hosts.some((h) => mapPorts!.some((p) => this.ports.get(h)!.has(p)));
  }

  /**
   * `text` with every `host:port` (or `[host]:port`) of a node's client port replaced by the address
   * of the proxy in front of it (`resolve`), as CLIENT LIST's `laddr=` becomes the address the client
   * connected to. Endpoints no proxy fronts, and bus ports, stay: the caller checks again.
   */
  rewriteText(text: string, resolve: NodeResolver): string {
    let out = text;
    for (const [host, ports] of this.clientPorts) {
      let from: number;
      for (let i = out.indexOf(host); i >= 0; i = out.indexOf(host, from)) {
        from = i + 1;
        if (i > 0 && isHostByte(out.charCodeAt(i - 1))) continue;
        const bracket = out[i - 1] === '[' && out.startsWith(']:', i + host.length);
        const sep = bracket ? ']:' : ':';
        if (!out.startsWith(sep, i + host.length)) continue;
        const at = i + host.length + sep.length;
        let j = at;
        while (j < out.length && out.charCodeAt(j) >= 0x30 && out.charCodeAt(j) <= 0x39) j++;
        const port = Number(out.slice(at, j));
        if (j === at || !ports.has(port)) continue;
        const proxy = resolve(null, host, port);
        if (proxy === undefined) continue;
        const start = bracket ? i - 1 : i;
        out = out.slice(0, start) + proxy.text + out.slice(j);
        from = start + proxy.text.length;
      }
    }
    return out;
  }

  private inText(text: string): boolean {
    for (const [host, ports] of this.ports) {
      for (let i = text.indexOf(host); i >= 0; i = text.indexOf(host, i + 1)) {
        if (i > 0 && isHostByte(text.charCodeAt(i - 1))) continue;
        const port = portAfter(text, i + host.length);
        if (port !== null && ports.has(port)) return true;
      }
    }
    return false;
  }
}

/** The separators Redis writes between a host and its port. */
const SEPARATORS = [':', ']:', ',port=', '\r\nmaster_port:'];

/** The port written right after a host at `at`, or null. */
function portAfter(text: string, at: number): number | null {
  for (const sep of SEPARATORS) {
    if (!text.startsWith(sep, at)) continue;
    let j = at + sep.length;
    const from = j;
    while (j < text.length && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j++;
    if (j > from && j - from <= 5) return Number(text.slice(from, j));
  }
  return null;
}

/** A byte that continues a host name or address: a match preceded by one is part of a longer name. */
function isHostByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x2d;
}

function errorText(node: RespNode): string | null {
  if (node.type === RespType.Error) return node.text ?? null;
  return node.data ? node.data.toString('latin1') : null;
}
