import { type NodeResolver, type Rewritten, RewriteLog, isDnsName } from './resolver.js';

/** The address field of a node Redis knows no address for (`noaddr`), and of a node we hide. */
export const NOADDR = ':0@0';

/**
 * Rewrites the text of a CLUSTER NODES reply so every address names the proxy that fronts the node:
 * `ip:port@cport[,hostname]` becomes `proxyHost:proxyPort@cport[,proxyHost]` — the hostname only
 * when the proxy host is a DNS name. The bus port stays (CLUSTER MEET takes it, and it is meaningless
 * to clients); node IDs, flags, slots and migrating/importing markers are untouched. `:0@0` entries
 * (noaddr) stay as they are. A node no proxy fronts becomes `:0@0` with its flags kept, and is
 * reported in `unknown` (except handshake nodes, whose IDs are temporary by nature).
 */
export function rewriteClusterNodes(text: string, resolve: NodeResolver): Rewritten<string> {
  const log = new RewriteLog();
  // Every line ends with '\n', the last one too; keep whatever separators the text has.
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const next = line === '' ? line : rewriteClusterNodeLine(line, resolve, log);
    if (next !== null) out.push(next);
  }
  const value = out.join('\n');
  return { value, changed: value !== text, unknown: log.unknown };
}

/**
 * Rewrites one CLUSTER NODES line (also a CLUSTER REPLICAS element, which has no trailing newline).
 * Returns null for a line it cannot read: that line is dropped rather than passed on, as it may
 * carry an address.
 */
export function rewriteClusterNodeLine(line: string, resolve: NodeResolver, log: RewriteLog): string | null {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0) {
    log.hide(null, '', 0);
    return null;
  }
  const id = line.slice(0, sp1);
  const addr = line.slice(sp1 + 1, sp2);
  const rest = line.slice(sp2); // ' <flags> <master> …'
  const sp3 = rest.indexOf(' ', 1);
  const flags = rest.slice(1, sp3 < 0 ? rest.length : sp3);

  // ip:port@cport[,hostname[,aux=…]] — split at the last '@', then the last ':' (bare IPv6).
  const comma = addr.indexOf(',');
  const main = comma < 0 ? addr : addr.slice(0, comma);
  const at = main.lastIndexOf('@');
  const hostPort = at < 0 ? main : main.slice(0, at);
  const cport = at < 0 ? null : main.slice(at + 1);
  const colon = hostPort.lastIndexOf(':');
  const host = colon < 0 ? '' : hostPort.slice(0, colon);
  const port = colon < 0 ? 0 : Number(hostPort.slice(colon + 1)) || 0;
  if (host === '' && port === 0) return line; // noaddr: nothing to hide

  const proxy = resolve(id, host, port);
  if (proxy === undefined) {
    if (!flags.split(',').includes('handshake')) log.hide(id, host, port);
    else log.changed = true;
    return `${id} ${NOADDR}${rest}`;
  }
  const hostname = isDnsName(proxy.host) ? `,${proxy.host}` : '';
  const next = `${id} ${proxy.host}:${proxy.port}${cport === null ? '' : `@${cport}`}${hostname}${rest}`;
  if (next !== line) log.changed = true;
  return next;
}
