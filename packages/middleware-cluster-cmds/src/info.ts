import type { ProxyAddress } from '@slotrelay/core';
import { type NodeResolver, type Rewritten, RewriteLog } from './resolver.js';

/** Options of `rewriteInfo`. */
export interface InfoOptions {
  /** The proxy in front of the node that answered, for `tcp_port`; leave `tcp_port` as it is when undefined. */
  readonly self?: ProxyAddress | undefined;
}

/** What INFO shows for a master no proxy fronts: Redis's own "no endpoint" marker, and no port. */
export const UNKNOWN_HOST = '?';

const SLAVE_LINE = /^slave(\d+):(.*)$/;

/**
 * Rewrites the text of an INFO reply (any list of sections; lines end with CRLF) so the replication
 * section names proxies: `master_host` / `master_port` of a replica, and `ip=` / `port=` of every
 * `slaveN:` line of a master. `tcp_port` (server section) becomes the port of the proxy in front of
 * the answering node. A replica no proxy fronts loses its `slaveN:` line (the others are renumbered);
 * a master no proxy fronts shows as `master_host:?` / `master_port:0`. Both are reported in `unknown`.
 */
export function rewriteInfo(text: string, resolve: NodeResolver, opts: InfoOptions = {}): Rewritten<string> {
  const log = new RewriteLog();
  if (!text.includes('master_host:') && !text.includes('\nslave') && !text.includes('tcp_port:'))
    return log.result(text);
  const lines = text.split('\r\n');
  const out: string[] = [];
  let masterHost: number | null = null;
  let masterPort: number | null = null;
  let slaveIndex = 0;
  for (const line of lines) {
    if (line.startsWith('master_host:')) {
      masterHost = out.length;
    } else if (line.startsWith('master_port:')) {
      masterPort = out.length;
    } else if (line.startsWith('tcp_port:') && opts.self) {
      out.push(`tcp_port:${opts.self.port}`);
      continue;
    } else {
      const m = SLAVE_LINE.exec(line);
      if (m) {
        const next = rewriteSlaveFields(m[2]!, resolve, log);
        if (next !== null) out.push(`slave${slaveIndex++}:${next}`);
        continue;
      }
    }
    out.push(line);
  }
  if (masterHost !== null && masterPort !== null) {
    const host = out[masterHost]!.slice('master_host:'.length);
    const port = Number(out[masterPort]!.slice('master_port:'.length)) || 0;
    const proxy = resolve(null, host, port);
    if (proxy === undefined) log.hide(null, host, port);
    out[masterHost] = `master_host:${proxy?.host ?? UNKNOWN_HOST}`;
    out[masterPort] = `master_port:${proxy?.port ?? 0}`;
  } else if (masterHost !== null || masterPort !== null) {
    // Half an address is still a leak.
    log.hide(null, '', 0);
    if (masterHost !== null) out[masterHost] = `master_host:${UNKNOWN_HOST}`;
    if (masterPort !== null) out[masterPort] = 'master_port:0';
  }
  const value = out.join('\r\n');
  return { value, changed: value !== text, unknown: log.unknown };
}

/** `ip=…,port=…,state=…,offset=…,lag=…` with the proxy's address, or null when no proxy fronts the replica. */
function rewriteSlaveFields(fields: string, resolve: NodeResolver, log: RewriteLog): string | null {
  const parts = fields.split(',');
  const ipAt = parts.findIndex((p) => p.startsWith('ip='));
  const portAt = parts.findIndex((p) => p.startsWith('port='));
  const host = ipAt < 0 ? '' : parts[ipAt]!.slice(3);
  const port = portAt < 0 ? 0 : Number(parts[portAt]!.slice(5)) || 0;
  const proxy = resolve(null, host, port);
  if (proxy === undefined) {
    log.hide(null, host, port);
    return null;
  }
  if (ipAt >= 0) parts[ipAt] = `ip=${proxy.host}`;
  if (portAt >= 0) parts[portAt] = `port=${proxy.port}`;
  return parts.join(',');
}
