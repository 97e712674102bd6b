import type { RedisResolver } from './resolver.js';

/** Where the host and port arguments of an address-carrying command sit (argument indexes, command name = 0). */
function addressArgs(args: readonly Buffer[]): [number, number] | null {
  const name = args[0]?.toString('latin1').toUpperCase();
  switch (name) {
    case 'MIGRATE':
      // MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH …] [AUTH2 …] [KEYS …]
      return args.length >= 6 ? [1, 2] : null;
    case 'REPLICAOF':
    case 'SLAVEOF':
      // REPLICAOF host port | REPLICAOF NO ONE (no address: NO is not followed by a port number)
      return args.length === 3 ? [1, 2] : null;
    case 'CLUSTER':
      // CLUSTER MEET ip port [cport]: the bus port is the one CLUSTER NODES showed, it passes as is
      return args.length >= 4 && args[1]!.toString('latin1').toUpperCase() === 'MEET' ? [2, 3] : null;
    default:
      return null;
  }
}

/**
 * Maps a proxy address in a client's command back to the Redis node behind it, so admin tools that
 * learned proxy addresses from CLUSTER NODES (`redis-cli --cluster check|reshard|rebalance <proxy>`
 * issues `MIGRATE ip port …` and `CLUSTER MEET ip port`) operate the real cluster. Handles
 * `MIGRATE host port …`, `CLUSTER MEET ip port [cport]`, `REPLICAOF|SLAVEOF host port`, and
 * `CLIENT KILL … LADDR ip:port` (CLIENT LIST shows the proxy's address as `laddr`).
 *
 * Returns the new argument list (the other arguments are the same buffers), or null when the command
 * carries no address or the address is not a known proxy — then it passes unchanged.
 */
export function rewriteAddressArgs(args: readonly Buffer[], resolve: RedisResolver): Buffer[] | null {
  const laddr = killLaddr(args);
  if (laddr >= 0) return rewriteJoined(args, laddr, resolve);
  const at = addressArgs(args);
  if (at === null) return null;
  const [h, p] = at;
  const portText = args[p]!.toString('latin1');
  if (!/^\d{1,5}$/.test(portText)) return null;
  const redis = resolve(args[h]!.toString('latin1'), Number(portText));
  if (redis === undefined) return null;
  const out = args.slice();
  out[h] = Buffer.from(redis.host, 'latin1');
  out[p] = Buffer.from(String(redis.port), 'latin1');
  return out;
}

/** `CLIENT KILL <filter> <value> …`: the index of the LADDR filter's value, or -1. */
function killLaddr(args: readonly Buffer[]): number {
  if (
    args.length < 4 ||
    args[0]!.toString('latin1').toUpperCase() !== 'CLIENT' ||
    args[1]!.toString('latin1').toUpperCase() !== 'KILL'
  )
    return -1;
  for (let i = 2; i + 1 < args.length; i += 2) if (args[i]!.toString('latin1').toUpperCase() === 'LADDR') return i + 1;
  return -1;
}

/** Maps one `host:port` argument (split at the last colon, IPv6 bare) back to its Redis node. */
function rewriteJoined(args: readonly Buffer[], at: number, resolve: RedisResolver): Buffer[] | null {
  const text = args[at]!.toString('latin1');
  const colon = text.lastIndexOf(':');
  const portText = text.slice(colon + 1);
  if (colon < 0 || !/^\d{1,5}$/.test(portText)) return null;
  const redis = resolve(text.slice(0, colon), Number(portText));
  if (redis === undefined) return null;
  const out = args.slice();
  out[at] = Buffer.from(`${redis.host}:${redis.port}`, 'latin1');
  return out;
}
