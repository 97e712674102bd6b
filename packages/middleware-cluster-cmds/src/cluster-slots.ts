import type { RespNode } from '@slotrelay/core';
import { type NodeResolver, type Rewritten, RewriteLog, isDnsName } from './resolver.js';
import { bulk, isArray, isMapLike, numberLike, numberOf, textOf } from './resp-values.js';

/**
 * Rewrites a CLUSTER SLOTS reply in place (RESP2 or RESP3: the wire types are kept, so a `%` metadata
 * map stays a map and a flat `*2k` stays flat). Each node entry `[endpoint, port, id?, metadata?]`
 * gets the proxy host as endpoint — also where Redis wrote NULL (`$-1` / `_`, unknown-endpoint), `?`
 * or '' — and the proxy port; the node ID stays (redis-benchmark matches it against CLUSTER NODES).
 * In the metadata, `ip` becomes the proxy host and `hostname` the proxy host when that is a DNS
 * name, else the pair is dropped. A replica no proxy fronts is dropped from its range; a range whose
 * master no proxy fronts is dropped whole. Both are reported in `unknown`.
 */
export function rewriteClusterSlots(root: RespNode, resolve: NodeResolver): Rewritten<RespNode> {
  const log = new RewriteLog();
  if (!isArray(root)) return log.result(root);
  const ranges: RespNode[] = [];
  for (const range of root.items) {
    if (!isArray(range) || range.items.length < 3) {
      ranges.push(range);
      continue;
    }
    const items: RespNode[] = range.items.slice(0, 2);
    let keep = true;
    for (let i = 2; i < range.items.length; i++) {
      const entry = range.items[i]!;
      if (rewriteSlotsEntry(entry, resolve, log)) items.push(entry);
      else if (i === 2) keep = false; // no master, no range: clients must not route these slots anywhere
    }
    if (!keep) continue;
    range.items = items;
    ranges.push(range);
  }
  root.items = ranges;
  return log.result(root);
}

/** Rewrites one node entry in place; false when no proxy fronts the node (the entry must go). */
function rewriteSlotsEntry(entry: RespNode, resolve: NodeResolver, log: RewriteLog): boolean {
  if (!isArray(entry) || entry.items.length < 2) return true;
  const [endpoint, portNode, idNode, meta] = entry.items as [
    RespNode,
    RespNode,
    RespNode | undefined,
    RespNode | undefined,
  ];
  const host = textOf(endpoint) ?? ''; // NULL endpoint: "the node you asked", as '' is for the map
  const port = numberOf(portNode) ?? 0;
  const id = textOf(idNode);
  const proxy = resolve(id, host, port);
  if (proxy === undefined) {
    log.hide(id, host, port);
    return false;
  }
  entry.items[0] = bulk(proxy.host);
  entry.items[1] = numberLike(portNode, proxy.port);
  if (isMapLike(meta)) {
    const kv: RespNode[] = [];
    for (let i = 0; i < meta.items.length; i += 2) {
      const key = textOf(meta.items[i]);
      if (key === 'ip') kv.push(meta.items[i]!, bulk(proxy.host));
      else if (key === 'hostname') {
        if (isDnsName(proxy.host)) kv.push(meta.items[i]!, bulk(proxy.host));
      } else kv.push(meta.items[i]!, meta.items[i + 1]!);
    }
    meta.items = kv;
  }
  log.changed = true;
  return true;
}
