/**
 * @slotrelay/middleware-cluster-cmds — rewrites the replies of CLUSTER NODES / SLOTS / SHARDS /
 * REPLICAS / SLAVES, INFO and ROLE so they name slotrelay proxies (RESP2 and RESP3, also inside
 * MULTI/EXEC), guards script replies (EVAL, FCALL …) against node addresses, and maps proxy addresses in MIGRATE / CLUSTER MEET / REPLICAOF back to Redis.
 * Enable it with `"@slotrelay/middleware-cluster-cmds"` in the config's `middleware` list.
 */
import { ContainerModule } from 'inversify';
import { Middleware } from '@slotrelay/core';
import { ClusterCmdsMiddleware } from './cluster-cmds-middleware.js';

export { ClusterCmdsMiddleware } from './cluster-cmds-middleware.js';
export { rewriteClusterNodes, rewriteClusterNodeLine, NOADDR } from './cluster-nodes.js';
export { rewriteClusterSlots } from './cluster-slots.js';
export { rewriteClusterShards, type ShardsOptions } from './cluster-shards.js';
export { rewriteClusterReplicas } from './cluster-replicas.js';
export { rewriteInfo, UNKNOWN_HOST, type InfoOptions } from './info.js';
export { rewriteRole } from './role.js';
export { rewriteAddressArgs } from './address-args.js';
export {
  replyKindOf,
  rewriteReply,
  rewriteReplyNode,
  rewriteExecReply,
  type ReplyKind,
  type ReplyRewriteOptions,
  type ExecPlan,
  type ExecRewritten,
} from './rewrite-reply.js';
export { shapeFit, type ShapeFit } from './reply-shapes.js';
export { NodeEndpoints } from './node-endpoints.js';
export {
  SCRIPT_COMMANDS,
  GUARDED_COMMANDS,
  SCRIPT_ADDRESS_ERROR,
  REPLY_ADDRESS_ERROR,
  ADDRESS_CONFIG_PARAMS,
  SCRIPT_GUARD,
  REPLY_GUARD,
  guardNode,
  guardReply,
  guardExecReply,
  rewriteConfigGet,
  type GuardOptions,
} from './address-guard.js';
export {
  mapResolver,
  mapRedisResolver,
  isDnsName,
  describeUnknown,
  RewriteLog,
  type NodeResolver,
  type RedisResolver,
  type UnknownNode,
  type Rewritten,
  type MapResolverOptions,
} from './resolver.js';

/** Binds `ClusterCmdsMiddleware` under the `Middleware` token of a listener's container. */
export const clusterCmdsModule = new ContainerModule(({ bind }) => {
  bind(Middleware).to(ClusterCmdsMiddleware).inSingletonScope();
});

export default clusterCmdsModule;
