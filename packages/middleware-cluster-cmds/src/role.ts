import type { RespNode } from '@slotrelay/core';
import { UNKNOWN_HOST } from './info.js';
import { type NodeResolver, type Rewritten, RewriteLog } from './resolver.js';
import { bulk, isArray, numberLike, numberOf, textOf } from './resp-values.js';

/**
 * Rewrites a ROLE reply in place. A master (`["master", offset, [[ip, port, offset], …]]`) gets the
 * proxy address of each replica, a replica no proxy fronts being dropped; a replica
 * (`["slave", master_ip, master_port, state, offset]`) gets its master's proxy address, or `?` and 0
 * when no proxy fronts it. Ports keep their wire type (bulk string for a master's replicas, integer
 * for a replica's master). Sentinel replies pass unchanged.
 */
export function rewriteRole(root: RespNode, resolve: NodeResolver): Rewritten<RespNode> {
  const log = new RewriteLog();
  if (!isArray(root)) return log.result(root);
  const items = root.items;
  const role = textOf(items[0]);
  if (role === 'master' && isArray(items[2])) {
    const replicas: RespNode[] = [];
    for (const r of items[2].items) {
      if (!isArray(r) || r.items.length < 2) {
        replicas.push(r);
        continue;
      }
      const host = textOf(r.items[0]) ?? '';
      const port = numberOf(r.items[1]) ?? 0;
      const proxy = resolve(null, host, port);
      if (proxy === undefined) {
        log.hide(null, host, port);
        continue;
      }
      r.items[0] = bulk(proxy.host);
      r.items[1] = numberLike(r.items[1]!, proxy.port);
      log.changed = true;
      replicas.push(r);
    }
    items[2].items = replicas;
  } else if (role === 'slave' && items.length >= 3) {
    const host = textOf(items[1]) ?? '';
    const port = numberOf(items[2]) ?? 0;
    const proxy = resolve(null, host, port);
    if (proxy === undefined) log.hide(null, host, port);
    items[1] = bulk(proxy?.host ?? UNKNOWN_HOST);
    items[2] = numberLike(items[2]!, proxy?.port ?? 0);
    log.changed = true;
  }
  return log.result(root);
}
