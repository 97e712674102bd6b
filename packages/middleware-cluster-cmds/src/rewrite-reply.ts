import { type ProxyAddress, type RespNode, RespType, decodeReply, encodeReply } from '@slotrelay/core';
import { rewriteClusterNodes } from './cluster-nodes.js';
import { rewriteClusterReplicas } from './cluster-replicas.js';
import { rewriteClusterShards } from './cluster-shards.js';
import { rewriteClusterSlots } from './cluster-slots.js';
import { rewriteInfo } from './info.js';
import type { NodeResolver, Rewritten, UnknownNode } from './resolver.js';
import { type ReplyKind, shapeFit } from './reply-shapes.js';
import { isErrorType } from './resp-values.js';
import { rewriteRole } from './role.js';

// Declared beside the reply shapes, which need it, so that the two files do not import each other.
export type { ReplyKind } from './reply-shapes.js';

/** What a reply rewrite needs besides the reply. */
export interface ReplyRewriteOptions {
  readonly resolve: NodeResolver;
  /** The listener speaks TLS (CLUSTER SHARDS then gives `tls-port` rather than `port`). */
  readonly tls: boolean;
  /** The proxy in front of the node that answered (INFO `tcp_port`). */
  readonly self?: ProxyAddress | undefined;
}

/**
 * Which reply kind a request asks for, from its arguments (command name first, any case), or null
 * when its reply names no address: CLUSTER NODES / SLOTS / SHARDS / REPLICAS / SLAVES, INFO, ROLE.
 */
export function replyKindOf(args: readonly Buffer[]): ReplyKind | null {
  const name = args[0]?.toString('latin1').toUpperCase();
  if (name === 'INFO') return 'info';
  if (name === 'ROLE') return 'role';
  if (name !== 'CLUSTER' || args.length < 2) return null;
  switch (args[1]!.toString('latin1').toUpperCase()) {
    case 'NODES':
      return 'nodes';
    case 'SLOTS':
      return 'slots';
    case 'SHARDS':
      return 'shards';
    case 'REPLICAS':
    case 'SLAVES':
      return 'replicas';
    default:
      return null;
  }
}

/**
 * Rewrites one decoded reply of `kind` in place. Text replies (NODES, INFO) keep their type: a bulk
 * string in RESP2, a verbatim string with its `txt:` format in RESP3; `encodeReply` recomputes every
 * length. Errors, nulls and unexpected shapes pass unchanged.
 */
export function rewriteReplyNode(
  node: RespNode,
  kind: ReplyKind,
  o: ReplyRewriteOptions,
): { changed: boolean; unknown: readonly UnknownNode[] } {
  switch (kind) {
    case 'nodes':
    case 'info': {
      if ((node.type !== RespType.BulkString && node.type !== RespType.Verbatim) || !node.data)
        return { changed: false, unknown: [] };
      const text = node.data.toString('latin1');
      const r =
        kind === 'nodes' ? rewriteClusterNodes(text, o.resolve) : rewriteInfo(text, o.resolve, { self: o.self });
      if (r.changed) node.data = Buffer.from(r.value, 'latin1');
      return r;
    }
    case 'slots':
      return rewriteClusterSlots(node, o.resolve);
    case 'shards':
      return rewriteClusterShards(node, o.resolve, { tls: o.tls });
    case 'replicas':
      return rewriteClusterReplicas(node, o.resolve);
    case 'role':
      return rewriteRole(node, o.resolve);
  }
}

/**
 * Rewrites one whole reply frame of `kind`. `value` is new bytes when something changed, else the
 * input itself. The input is only read: the new bytes never share memory with it.
 */
export function rewriteReply(bytes: Buffer, kind: ReplyKind, o: ReplyRewriteOptions): Rewritten<Buffer> {
  if (bytes.length === 0 || isErrorType(bytes[0]!)) return { value: bytes, changed: false, unknown: [] };
  const node = decodeReply(bytes);
  const r = rewriteReplyNode(node, kind, o);
  return { value: r.changed ? encodeReply(node) : bytes, changed: r.changed, unknown: r.unknown };
}

/** Where the address-bearing replies sit in an EXEC array (see `Transaction`). */
export interface ExecPlan {
  /** EXEC array index → reply kind, as counted on the requests. */
  readonly positions: ReadonlyMap<number, ReplyKind>;
  /** The count may be off everywhere (a nested MULTI): after the positions, check every other element too. */
  readonly verifyAll?: boolean;
  /** With `verifyAll`: the kinds to look for (default: those in `positions`). */
  readonly kinds?: ReadonlySet<ReplyKind>;
}

/** The outcome of `rewriteExecReply`. */
export interface ExecRewritten extends Rewritten<Buffer> {
  /** Elements found by their shape because the counted place did not hold a reply of the expected kind. */
  readonly byShape: number;
}

/**
 * Rewrites the reply of an EXEC: the reply of each queued address-bearing command sits at its index
 * in the array. An element is rewritten only once its shape confirms the kind (`shapeFit`); when a
 * counted place holds something else (or an empty value that proves nothing), or the plan says the
 * count may be off, every other element that has the shape of a kind still unconfirmed is rewritten
 * as that kind — a miscounted place must not let an address through. `-EXECABORT`, a null (a
 * WATCHed key changed) and error elements pass unchanged.
 */
export function rewriteExecReply(bytes: Buffer, plan: ExecPlan, o: ReplyRewriteOptions): ExecRewritten {
  const unchanged = { value: bytes, changed: false, unknown: [], byShape: 0 };
  const kinds = plan.kinds ?? new Set(plan.positions.values());
  if (bytes.length === 0 || bytes[0] !== RespType.Array || kinds.size === 0) return unchanged;
  const root = decodeReply(bytes);
  const items = root.items;
  if (!items) return unchanged;
  let changed = false;
  let byShape = 0;
  const unknown: UnknownNode[] = [];
  const done = new Set<number>();
  const unconfirmed = new Set<ReplyKind>();
  const rewrite = (i: number, kind: ReplyKind) => {
    const r = rewriteReplyNode(items[i]!, kind, o);
    changed ||= r.changed;
    unknown.push(...r.unknown);
    done.add(i);
  };
  for (const [i, kind] of plan.positions) {
    const item = items[i];
    const fit = item === undefined ? 'mismatch' : shapeFit(item, kind);
    // An error at the counted place proves nothing either: the place may be wrong.
    if (fit === 'match') rewrite(i, kind);
    else unconfirmed.add(kind);
  }
  if (plan.verifyAll) for (const kind of kinds) unconfirmed.add(kind);
  if (unconfirmed.size > 0) {
    for (let i = 0; i < items.length; i++) {
      if (done.has(i) || isErrorType(items[i]!.type)) continue;
      for (const kind of unconfirmed) {
        if (shapeFit(items[i]!, kind) !== 'match') continue;
        rewrite(i, kind);
        byShape++;
        break;
      }
    }
  }
  return { value: changed ? encodeReply(root) : bytes, changed, unknown, byShape };
}
