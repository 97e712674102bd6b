/**
 * Finding the network addresses a reply names, whatever its shape: `ip:port` in text (CLUSTER
 * NODES, MOVED), `ip=…,port=…` and `master_host`/`master_port` (INFO replication), an IP followed by
 * its port in an array (CLUSTER SLOTS, ROLE), and `ip`/`endpoint` beside `port` in a key–value list
 * or object (CLUSTER SHARDS in RESP2 and RESP3). IPv4 only: the fleets it serves are on 198.18/15.
 */

const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}\b/g;
const IPV4_PORT = /\b(\d{1,3}(?:\.\d{1,3}){3}):(\d+)\b/g;
const INFO_REPLICA = /\bip=([^,\s]+),port=(\d+)/g;
const INFO_MASTER = /master_host:(\S+)\r?\nmaster_port:(\d+)/g;

/** The IPs and `ip:port` pairs a reply names. */
export interface Named {
  readonly ips: Set<string>;
  readonly pairs: Set<string>;
}

const isIp = (v: unknown): v is string => typeof v === 'string' && /^\d{1,3}(?:\.\d{1,3}){3}$/.test(v);
const isPort = (v: unknown): boolean =>
  (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^\d{1,5}$/.test(v));

/** Every IP and `ip:port` that `reply` (a decoded reply: strings, numbers, arrays, plain objects) names. */
export function addressesIn(reply: unknown, into: Named = { ips: new Set(), pairs: new Set() }): Named {
  if (typeof reply === 'string') {
    for (const m of reply.matchAll(IPV4)) into.ips.add(m[0]);
    for (const re of [IPV4_PORT, INFO_REPLICA, INFO_MASTER])
      for (const m of reply.matchAll(re)) into.pairs.add(`${m[1]}:${m[2]}`);
  } else if (Array.isArray(reply)) {
    const kv: Record<string, unknown> = {};
    reply.forEach((v, i) => {
      if (isIp(v) && isPort(reply[i + 1])) into.pairs.add(`${v}:${String(reply[i + 1])}`);
      if (typeof v === 'string' && i + 1 < reply.length) kv[v] = reply[i + 1];
      addressesIn(v, into);
    });
    keyed(kv, into);
  } else if (reply !== null && typeof reply === 'object') {
    keyed(reply as Record<string, unknown>, into);
    for (const v of Object.values(reply)) addressesIn(v, into);
  }
  return into;
}

function keyed(o: Record<string, unknown>, into: Named): void {
  const port = o['port'] ?? o['tls-port'];
  if (!isPort(port)) return;
  for (const k of ['ip', 'endpoint']) if (isIp(o[k])) into.pairs.add(`${String(o[k])}:${String(port)}`);
}

/**
 * What in `reply` names anything but the given proxy addresses (`host:port`): foreign IPs, and
 * pairs that are not a proxy's exact address. Empty when the reply names only proxies.
 */
export function foreignAddresses(reply: unknown, proxies: readonly string[]): string[] {
  const named = addressesIn(reply);
  const ips = new Set(proxies.map((p) => p.slice(0, p.lastIndexOf(':'))));
  const wanted = new Set(proxies);
  return [...[...named.ips].filter((ip) => !ips.has(ip)), ...[...named.pairs].filter((p) => !wanted.has(p))];
}
