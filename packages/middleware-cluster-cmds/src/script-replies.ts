import { type RespNode, RespType, decodeReply, encodeError, encodeReply } from '@slotrelay/core';
import type { NodeEndpoints } from './node-endpoints.js';
import type { Rewritten, UnknownNode } from './resolver.js';
import { type ReplyKind, type ReplyRewriteOptions, rewriteReplyNode } from './rewrite-reply.js';
import { shapeFit } from './reply-shapes.js';

/** Commands that run a script or function: what they return is up to the script. */
export const SCRIPT_COMMANDS = ['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO'] as const;

/** What a client gets instead of a script's reply that names a Redis node in a shape no rewrite knows. */
export const SCRIPT_ADDRESS_ERROR = "ERR slotrelay: the script's reply names a Redis node address";

// The shapes a script can pass on whole: `return redis.call('cluster', 'nodes')` has the shape of
// the command's own reply (Lua hands NODES and INFO back as bulk strings, or verbatim after
// redis.setresp(3); SHARDS as maps or flat arrays). ROLE cannot be called from a script.
const KINDS: readonly ReplyKind[] = ['nodes', 'replicas', 'slots', 'shards', 'info'];

/**
 * Makes one script reply (or one element of an EXEC array) safe, in place: a value that names a
 * node endpoint is rewritten when it has exactly the shape of a CLUSTER NODES / REPLICAS / SLOTS /
 * SHARDS or INFO reply and then names no Redis endpoint any more; otherwise it becomes the error
 * `SCRIPT_ADDRESS_ERROR`. A value that names none is left as it is. `-MOVED` / `-ASK` are left to
 * middleware-redirect.
 */
export function guardScriptNode(node: RespNode, o: ReplyRewriteOptions, endpoints: NodeEndpoints): { node: RespNode; changed: boolean; unknown: readonly UnknownNode[] } {
  if (isRedirect(node) || !endpoints.namesEndpoint(node)) return { node, changed: false, unknown: [] };
  const kind = KINDS.find((k) => shapeFit(node, k) === 'match');
  if (kind !== undefined) {
    const r = rewriteReplyNode(node, kind, o);
    if (!endpoints.namesEndpoint(node)) return { node, changed: true, unknown: r.unknown };
  }
  return { node: { type: RespType.Error, text: SCRIPT_ADDRESS_ERROR }, changed: true, unknown: [] };
}

/**
 * The reply of EVAL / EVALSHA / FCALL …, made safe as `guardScriptNode` says. A reply in which no
 * node host occurs at all (the quick byte search) is not decoded.
 */
export function rewriteScriptReply(bytes: Buffer, o: ReplyRewriteOptions, endpoints: NodeEndpoints): Rewritten<Buffer> {
  if (!endpoints.mayName(bytes)) return { value: bytes, changed: false, unknown: [] };
  const r = guardScriptNode(decodeReply(bytes), o, endpoints);
  if (!r.changed) return { value: bytes, changed: false, unknown: [] };
  return { value: r.node.type === RespType.Error ? encodeError(r.node.text!) : encodeReply(r.node), changed: true, unknown: r.unknown };
}

/** An EXEC reply of a transaction that ran scripts: each element made safe as `guardScriptNode` says. */
export function rewriteExecScripts(bytes: Buffer, o: ReplyRewriteOptions, endpoints: NodeEndpoints): Rewritten<Buffer> {
  const unchanged = { value: bytes, changed: false, unknown: [] };
  if (bytes[0] !== RespType.Array || !endpoints.mayName(bytes)) return unchanged;
  const root = decodeReply(bytes);
  if (!root.items) return unchanged;
  let changed = false;
  const unknown: UnknownNode[] = [];
  root.items = root.items.map((item) => {
    const r = guardScriptNode(item, o, endpoints);
    changed ||= r.changed;
    unknown.push(...r.unknown);
    return r.node;
  });
  return changed ? { value: encodeReply(root), changed, unknown } : unchanged;
}

function isRedirect(node: RespNode): boolean {
  return node.type === RespType.Error && /^(MOVED|ASK) /.test(node.text ?? '');
}
