import type { SlotrelayConfig } from '@slotrelay/core';
import { DEFAULT_MIDDLEWARE } from './config.js';

/**
 * Where a config change comes from: `network` is `GALLIUMDATA CONFIG PATCH` from a client,
 * `file` is the operator's own config file (`--watch`).
 */
export type PatchSource = 'network' | 'file';

/**
 * Connection fields that decide what the proxy binds and dials. Over the network they would turn
 * an admin password into "listen on any port, relay to any host" (issue 13).
 */
const GUARDED_CONNECTION_FIELDS = ['redisServers', 'clusterMembers', 'localAddress', 'localPort'] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Defaults: writing one out, or removing a field that held it, changes nothing. */
const localAddressOf = (c: Record<string, unknown>) => c.localAddress ?? '0.0.0.0';
const middlewareOf = (c: { middleware?: unknown }) => c.middleware ?? DEFAULT_MIDDLEWARE;

/**
 * Why a network patch may not move the running config `prev` to `next`, or undefined when it may.
 * Runs on the patched document before any validation, so a refused patch reads, loads, binds and
 * dials nothing. Without `"allowNetworkPatch": true` in the file config, a network patch may not
 * change `middleware` (its code would run in the proxy) or `middlewareConfig` (what a middleware
 * enforces, e.g. who sees masked values) or `metrics` (where it listens), add or rename a connection, or change a
 * connection's `redisServers`, `clusterMembers`, `localAddress` or `localPort`. `allowNetworkPatch`
 * itself is never patchable over the network. `next` may be any JSON: shapes the schema will
 * refuse are left to it.
 */
export function networkPatchRefusal(prev: SlotrelayConfig, next: unknown): string | undefined {
  const why = (what: string) => `config patch: over the network a patch may not ${what}`;
  if (!isObject(next)) return undefined;
  if (!same(prev.allowNetworkPatch, next.allowNetworkPatch))
    return `${why('change allowNetworkPatch')} (only the config file can)`;
  if (prev.allowNetworkPatch === true) return undefined;
  const hint = ' (set "allowNetworkPatch": true in the config file to allow it)';
  if (!same(middlewareOf(prev), middlewareOf(next))) return `${why('change middleware')}${hint}`;
  if (!same(prev.middlewareConfig, next.middlewareConfig)) return `${why('change middlewareConfig')}${hint}`;
  // The metrics endpoint is an address the process listens on, like a connection's localPort.
  if (!same(prev.metrics, next.metrics)) return `${why('change metrics')}${hint}`;
  if (!Array.isArray(next.connections)) return undefined;
  const oldByName = new Map(prev.connections.map((c) => [c.name, c as unknown as Record<string, unknown>]));
  for (const [i, c] of next.connections.entries()) {
    if (!isObject(c)) continue;
    const old = oldByName.get(c.name as string);
    if (old === undefined) return `${why(`add a connection (connections[${i}] '${String(c.name)}')`)}${hint}`;
    for (const k of GUARDED_CONNECTION_FIELDS) {
      const changed = k === 'localAddress' ? localAddressOf(old) !== localAddressOf(c) : !same(old[k], c[k]);
      if (changed) return `${why(`change connections[${i}].${k}`)}${hint}`;
    }
  }
  return undefined;
}

/**
 * Why a network patch may not set what it sets, for what no running config can hold: an
 * environment reference (`{"env": "NAME"}`) anywhere in an op's value. Such references are
 * resolved when the operator's file is read; over the network one would let an admin read any
 * variable of the proxy's environment into a field it then uses (or into a password it checks).
 */
export function envRefInPatch(ops: readonly unknown[]): string | undefined {
  const hasRef = (v: unknown): boolean =>
    v !== null &&
    typeof v === 'object' &&
    (Array.isArray(v)
      ? v.some(hasRef)
      : (Object.keys(v).length === 1 && typeof (v as { env?: unknown }).env === 'string') ||
        Object.values(v).some(hasRef));
  const i = ops.findIndex((op) => isObject(op) && 'value' in op && hasRef(op.value));
  if (i < 0) return undefined;
  return `config patch: operation #${i} sets an environment reference ({"env": …}); only the config file can read the environment (set the value itself, or change the file)`;
}
