import { type RespNode, RespType } from '@slotrelay/core';
import { type NodeResolver, type Rewritten, RewriteLog, isDnsName } from './resolver.js';
import { bulk, isArray, isMapLike, mapGet, numberOf, textOf } from './resp-values.js';

/** Options of `rewriteClusterShards`. */
export interface ShardsOptions {
  /** The listener speaks TLS: nodes get `tls-port`, else `port`. */
  readonly tls: boolean;
}

/**
 * Rewrites a CLUSTER SHARDS reply in place (RESP3 maps or RESP2 flat arrays, kept as they are).
 * In each node dict: `ip` and `endpoint` become the proxy host; `hostname` the proxy host when it is
 * a DNS name (added if Redis sent none), else it is dropped; `port` / `tls-port` are replaced by
 * exactly one of them carrying the proxy port — `tls-port` on a TLS listener, `port` on a plain one
 * (go-redis picks by its own TLS setting, and Redis's choice reflects the proxy→Redis link, not the
 * client's). `id`, `role`, `replication-offset`, `health` and unknown fields stay. A node no proxy
 * fronts is dropped (and reported in `unknown`); a shard left with no node is dropped too.
 */
export function rewriteClusterShards(root: RespNode, resolve: NodeResolver, opts: ShardsOptions): Rewritten<RespNode> {
  const log = new RewriteLog();
  if (!isArray(root)) return log.result(root);
  const shards: RespNode[] = [];
  for (const shard of root.items) {
    const nodes = isMapLike(shard) ? mapGet(shard, 'nodes') : undefined;
    if (!isArray(nodes)) {
      shards.push(shard);
      continue;
    }
    const before = nodes.items.length;
    nodes.items = nodes.items.filter((n) => rewriteShardNode(n, resolve, opts, log));
    if (nodes.items.length > 0 || before === 0) shards.push(shard);
  }
  root.items = shards;
  return log.result(root);
}

/** Rewrites one node dict in place; false when no proxy fronts the node. */
function rewriteShardNode(node: RespNode, resolve: NodeResolver, opts: ShardsOptions, log: RewriteLog): boolean {
  if (!isMapLike(node)) return true;
  const id = textOf(mapGet(node, 'id'));
  const host = textOf(mapGet(node, 'ip')) ?? textOf(mapGet(node, 'endpoint')) ?? '';
  const port = numberOf(mapGet(node, 'port')) ?? numberOf(mapGet(node, 'tls-port')) ?? 0;
  const proxy = resolve(id, host, port);
  if (proxy === undefined) {
    log.hide(id, host, port);
    return false;
  }
  const portPair = [bulk(opts.tls ? 'tls-port' : 'port'), { type: RespType.Integer, text: String(proxy.port) }];
  const hostnamePair = isDnsName(proxy.host) ? [bulk('hostname'), bulk(proxy.host)] : [];
  const kv: RespNode[] = [];
  let portDone = false;
  let hostnameDone = false;
  for (let i = 0; i < node.items.length; i += 2) {
    const k = node.items[i]!;
    switch (textOf(k)) {
      case 'port':
      case 'tls-port':
        if (!portDone) kv.push(...portPair);
        portDone = true;
        break;
      case 'ip':
      case 'endpoint':
        kv.push(k, bulk(proxy.host));
        break;
      case 'hostname':
        if (!hostnameDone) kv.push(...hostnamePair);
        hostnameDone = true;
        break;
      default:
        kv.push(k, node.items[i + 1]!);
    }
    // Fields Redis did not send go where Redis puts them: the port after `id`, the hostname after `endpoint`.
    const key = textOf(k);
    if (key === 'id' && !portDone && !hasKey(node, 'port') && !hasKey(node, 'tls-port')) {
      kv.push(...portPair);
      portDone = true;
    }
    if (key === 'endpoint' && !hostnameDone && !hasKey(node, 'hostname')) {
      kv.push(...hostnamePair);
      hostnameDone = true;
    }
  }
  if (!portDone) kv.push(...portPair);
  if (!hostnameDone) kv.push(...hostnamePair);
  node.items = kv;
  log.changed = true;
  return true;
}

function hasKey(node: RespNode & { items: RespNode[] }, key: string): boolean {
  return mapGet(node, key) !== undefined;
}
