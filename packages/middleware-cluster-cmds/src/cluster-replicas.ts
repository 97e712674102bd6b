import type { RespNode } from '@slotrelay/core';
import { rewriteClusterNodeLine } from './cluster-nodes.js';
import { type NodeResolver, type Rewritten, RewriteLog } from './resolver.js';
import { bulk, isArray, textOf } from './resp-values.js';

/**
 * Rewrites a CLUSTER REPLICAS / CLUSTER SLAVES reply in place: an array of bulk strings, each one
 * CLUSTER NODES line without its trailing newline. Every element is rewritten (Shotover rewrote only
 * the first), with the rules of `rewriteClusterNodes`.
 */
export function rewriteClusterReplicas(root: RespNode, resolve: NodeResolver): Rewritten<RespNode> {
  const log = new RewriteLog();
  if (!isArray(root)) return log.result(root);
  const items: RespNode[] = [];
  for (const item of root.items) {
    const line = textOf(item);
    if (line === null) {
      items.push(item);
      continue;
    }
    const next = rewriteClusterNodeLine(line, resolve, log);
    if (next !== null) items.push(next === line ? item : { ...bulk(next), type: item.type });
  }
  root.items = items;
  return log.result(root);
}
