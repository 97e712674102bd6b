import { type RespNode, RespType, decodeReply, encodeError, encodeReply } from '@slotrelay/core';
import type { NodeEndpoints } from './node-endpoints.js';
import type { Rewritten, UnknownNode } from './resolver.js';
import { isMapLike, textOf } from './resp-values.js';
import { type ReplyKind, type ReplyRewriteOptions, rewriteReplyNode } from './rewrite-reply.js';
import { shapeFit } from './reply-shapes.js';

/** Commands that run a script or function: what they return is up to the script. */
export const SCRIPT_COMMANDS = ['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO'] as const;

/**
 * Introspection commands whose replies are guarded (README "Every command that can name a node"):
 * CLIENT LIST / INFO and ACL LOG carry `laddr=`, the node's own address; CONFIG GET carries `port`
 * and `bind`; the others carry none in Redis 7.0, and are guarded so one never slips through.
 * CLUSTER's address-bearing subcommands have their own rewrites; its others are guarded.
 */
export const GUARDED_COMMANDS = [
  'CLIENT',
  'ACL',
  'CONFIG',
  'SLOWLOG',
  'LATENCY',
  'MEMORY',
  'DEBUG',
  'CLUSTER',
] as const;

/** What a client gets instead of a script's reply that names a Redis node in a shape no rewrite knows. */
export const SCRIPT_ADDRESS_ERROR = "ERR slotrelay: the script's reply names a Redis node address";

/** What a client gets instead of any other reply that still names a Redis node after the rewrites. */
export const REPLY_ADDRESS_ERROR = 'ERR slotrelay: the reply names a Redis node address';

/**
 * CONFIG GET parameters that give a node's address or port (Redis 7.0): dropped from the reply,
 * since a proxy has no value to put there that would be true.
 */
export const ADDRESS_CONFIG_PARAMS: ReadonlySet<string> = new Set([
  'port',
  'tls-port',
  'bind',
  'bind-source-addr',
  'cluster-port',
  'cluster-announce-ip',
  'cluster-announce-hostname',
  'cluster-announce-port',
  'cluster-announce-tls-port',
  'cluster-announce-bus-port',
  'replica-announce-ip',
  'replica-announce-port',
  'slave-announce-ip',
  'slave-announce-port',
  'replicaof',
  'slaveof',
]);

/** How `guardNode` treats a value that names a node endpoint in no known shape. */
export interface GuardOptions {
  /** Replace `host:port` of a node's client port in strings by its proxy's address (CLIENT LIST `laddr`). */
  readonly text: boolean;
  /** The error that replaces a value still naming a node after that. */
  readonly error: string;
}

/** Scripts: an endpoint outside the known shapes is refused, user data is never edited. */
export const SCRIPT_GUARD: GuardOptions = { text: false, error: SCRIPT_ADDRESS_ERROR };
/** Introspection replies: endpoints in text are rewritten, anything else naming a node is refused. */
export const REPLY_GUARD: GuardOptions = { text: true, error: REPLY_ADDRESS_ERROR };

// The shapes a script can pass on whole: `return redis.call('cluster', 'nodes')` has the shape of
// the command's own reply (Lua hands NODES and INFO back as bulk strings, or verbatim after
// redis.setresp(3); SHARDS as maps or flat arrays). ROLE cannot be called from a script.
const KINDS: readonly ReplyKind[] = ['nodes', 'replicas', 'slots', 'shards', 'info'];

/**
 * Makes one reply value (or one element of an EXEC array) safe, in place. A value that names a node
 * endpoint (`NodeEndpoints`) is rewritten when it has exactly the shape of a CLUSTER NODES /
 * REPLICAS / SLOTS / SHARDS or INFO reply; with `g.text`, endpoints in its strings are then replaced
 * by proxy addresses; if it still names one it becomes the error `g.error`. A value that names none
 * is left as it is. `-MOVED` / `-ASK` are left to middleware-redirect.
 */
export function guardNode(
  node: RespNode,
  o: ReplyRewriteOptions,
  endpoints: NodeEndpoints,
  g: GuardOptions,
): { node: RespNode; changed: boolean; unknown: readonly UnknownNode[] } {
  if (isRedirect(node) || !endpoints.namesEndpoint(node)) return { node, changed: false, unknown: [] };
  const kind = KINDS.find((k) => shapeFit(node, k) === 'match');
  let unknown: readonly UnknownNode[] = [];
  if (kind !== undefined) {
    unknown = rewriteReplyNode(node, kind, o).unknown;
    if (!endpoints.namesEndpoint(node)) return { node, changed: true, unknown };
  }
  if (g.text) {
    mapStrings(node, (t) => endpoints.rewriteText(t, o.resolve));
    if (!endpoints.namesEndpoint(node)) return { node, changed: true, unknown };
  }
  return { node: { type: RespType.Error, text: g.error }, changed: true, unknown: [] };
}

/**
 * One reply made safe as `guardNode` says. A reply in which no node host occurs at all (a byte
 * search) is not decoded.
 */
export function guardReply(
  bytes: Buffer,
  o: ReplyRewriteOptions,
  endpoints: NodeEndpoints,
  g: GuardOptions,
): Rewritten<Buffer> {
  if (!endpoints.mayName(bytes)) return { value: bytes, changed: false, unknown: [] };
  return encoded(bytes, guardNode(decodeReply(bytes), o, endpoints, g));
}

/**
 * An EXEC reply: each element made safe as `guardNode` says; the elements at `configAt` (queued
 * CONFIG GETs) first lose their address parameters, as `rewriteConfigGet` does.
 */
export function guardExecReply(
  bytes: Buffer,
  o: ReplyRewriteOptions,
  endpoints: NodeEndpoints,
  g: GuardOptions,
  configAt: ReadonlySet<number> = new Set(),
): Rewritten<Buffer> {
  const unchanged = { value: bytes, changed: false, unknown: [] };
  if (bytes[0] !== RespType.Array || (configAt.size === 0 && !endpoints.mayName(bytes))) return unchanged;
  const root = decodeReply(bytes);
  if (!root.items) return unchanged;
  let changed = false;
  const unknown: UnknownNode[] = [];
  root.items = root.items.map((item, i) => {
    if (configAt.has(i) && dropAddressParams(item)) changed = true;
    const r = guardNode(item, o, endpoints, g);
    changed ||= r.changed;
    unknown.push(...r.unknown);
    return r.node;
  });
  return changed ? { value: encodeReply(root), changed, unknown } : unchanged;
}

/**
 * A CONFIG GET reply (a flat array in RESP2, a map in RESP3) without the parameters of
 * `ADDRESS_CONFIG_PARAMS`, then guarded (`REPLY_GUARD`).
 */
export function rewriteConfigGet(bytes: Buffer, o: ReplyRewriteOptions, endpoints: NodeEndpoints): Rewritten<Buffer> {
  const root = decodeReply(bytes);
  const dropped = dropAddressParams(root);
  const r = guardNode(root, o, endpoints, REPLY_GUARD);
  return r.changed || dropped ? encoded(bytes, { ...r, changed: true }) : { value: bytes, changed: false, unknown: [] };
}

/** Removes the `ADDRESS_CONFIG_PARAMS` pairs from a CONFIG GET value, in place; true if any was there. */
function dropAddressParams(node: RespNode): boolean {
  if (!isMapLike(node)) return false;
  const kept: RespNode[] = [];
  for (let i = 0; i < node.items.length; i += 2) {
    if (ADDRESS_CONFIG_PARAMS.has((textOf(node.items[i]) ?? '').toLowerCase())) continue;
    kept.push(node.items[i]!, node.items[i + 1]!);
  }
  if (kept.length === node.items.length) return false;
  node.items = kept;
  return true;
}

function encoded(
  bytes: Buffer,
  r: { node: RespNode; changed: boolean; unknown: readonly UnknownNode[] },
): Rewritten<Buffer> {
  if (!r.changed) return { value: bytes, changed: false, unknown: [] };
  return {
    value: r.node.type === RespType.Error ? encodeError(r.node.text!) : encodeReply(r.node),
    changed: true,
    unknown: r.unknown,
  };
}

/** Applies `fn` to the text of every string and error in `node`, in place. */
function mapStrings(node: RespNode, fn: (text: string) => string): void {
  if (node.data) {
    const t = node.data.toString('latin1');
    const next = fn(t);
    if (next !== t) node.data = Buffer.from(next, 'latin1');
  } else if (node.text !== undefined && (node.type === RespType.SimpleString || node.type === RespType.Error)) {
    node.text = fn(node.text);
  }
  node.items?.forEach((i) => mapStrings(i, fn));
  node.attributes?.forEach((i) => mapStrings(i, fn));
}

function isRedirect(node: RespNode): boolean {
  return node.type === RespType.Error && /^(MOVED|ASK) /.test(node.text ?? '');
}
