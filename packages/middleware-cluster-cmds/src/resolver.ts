import { isIP } from 'node:net';
import type { AddressMap, HostPort, ProxyAddress } from '@slotrelay/core';

/**
 * Finds the proxy that fronts a Redis node, or undefined when no proxy is known for it. `id` is the
 * node ID when the reply names one (NODES, SLOTS, SHARDS, REPLICAS), null where it only gives an
 * address (INFO, ROLE). `host` is the address as Redis wrote it: an IP (IPv6 bare), a hostname,
 * `?`, or '' (unknown-endpoint / NULL: "the node you asked").
 */
export type NodeResolver = (id: string | null, host: string, port: number) => ProxyAddress | undefined;

/** Finds the Redis node behind a proxy address a client sent (MIGRATE, CLUSTER MEET, REPLICAOF), or undefined. */
export type RedisResolver = (host: string, port: number) => HostPort | undefined;

/** A node a reply names that no proxy is known for. The rewrite hid it; the caller may rescan and retry. */
export interface UnknownNode {
  readonly id: string | null;
  readonly host: string;
  readonly port: number;
}

/**
 * The outcome of one rewrite: the new value (the input itself when nothing changed) and the nodes
 * that were hidden because no proxy fronts them. The value never names a Redis address either way.
 */
export interface Rewritten<T> {
  readonly value: T;
  readonly changed: boolean;
  readonly unknown: readonly UnknownNode[];
}

/** Options of `mapResolver`. */
export interface MapResolverOptions {
  /**
   * When the map has a topology, accept only node IDs it knows, so that a node ID it has never seen
   * (a new or replaced node, whose arrival may reshuffle the dynamic mapping) counts as unknown and
   * the caller rescans. Non-strict also falls back to the node's address.
   */
  readonly strict: boolean;
}

/**
 * A `NodeResolver` over a listener's `AddressMap` (null: no map yet, nothing is known). Addresses
 * resolve through `proxyForEndpoint` with the upstream host as the asked host — the same call, and so
 * the same strings, as the redirect middleware.
 */
export function mapResolver(map: AddressMap | null, opts: MapResolverOptions): NodeResolver {
  if (map === null) return () => undefined;
  const asked = map.upstream.host;
  const byIdOnly = opts.strict && map.topology !== null;
  return (id, host, port) => {
    if (id !== null) {
      const p = map.proxyFor(id);
      if (p !== undefined || byIdOnly) return p;
    }
    return port === 0 ? undefined : map.proxyForEndpoint(host, port, asked);
  };
}

/** A `RedisResolver` over a listener's `AddressMap`. */
export function mapRedisResolver(map: AddressMap | null): RedisResolver {
  return (host, port) => map?.redisFor(host, port);
}

/**
 * True when `host` is a DNS name rather than an IP literal: only then is a proxy host also written
 * as a node's `hostname` (Redis itself announces hostnames, never IPs, there).
 */
export function isDnsName(host: string): boolean {
  return host !== '' && host !== '?' && isIP(host) === 0;
}

/** `id host:port` of an unknown node, for logs and rescan reasons. */
export function describeUnknown(u: UnknownNode): string {
  return `${u.id ?? '(no id)'} ${u.host}:${u.port}`;
}

/** Collects what a rewrite did while it walks a reply. */
export class RewriteLog {
  changed = false;
  readonly unknown: UnknownNode[] = [];

  /** Record a node no proxy fronts. */
  hide(id: string | null, host: string, port: number): void {
    this.unknown.push({ id, host, port });
    this.changed = true;
  }

  /** The result for `value`. */
  result<T>(value: T): Rewritten<T> {
    return { value, changed: this.changed, unknown: this.unknown };
  }
}
