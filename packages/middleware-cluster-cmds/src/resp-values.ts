import { type RespNode, RespType } from '@slotrelay/core';

/** The text of a string-like node (`$ + = !`), latin1 so every byte round-trips; null for anything else or a null. */
export function textOf(n: RespNode | undefined): string | null {
  if (n === undefined) return null;
  if (n.type === RespType.BulkString || n.type === RespType.Verbatim) return n.data ? n.data.toString('latin1') : null;
  if (n.type === RespType.SimpleString) return n.text ?? null;
  return null;
}

/** The number in an integer node, or in a bulk string holding digits (ROLE writes ports as bulk strings). */
export function numberOf(n: RespNode | undefined): number | null {
  if (n === undefined) return null;
  const t =
    n.type === RespType.Integer ? n.text : n.type === RespType.BulkString ? n.data?.toString('latin1') : undefined;
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : null;
}

/** A bulk string node with latin1 text. */
export function bulk(text: string): RespNode {
  return { type: RespType.BulkString, data: Buffer.from(text, 'latin1') };
}

/** A node for `value` of the same wire type as `like`: an integer stays `:`, a bulk string stays `$`. */
export function numberLike(like: RespNode, value: number): RespNode {
  return like.type === RespType.BulkString ? bulk(String(value)) : { type: RespType.Integer, text: String(value) };
}

/** True for a map: `%` in RESP3, or a flat key/value array in RESP2 (`addReplyMapLen`). */
export function isMapLike(n: RespNode | undefined): n is RespNode & { items: RespNode[] } {
  return (
    n !== undefined &&
    (n.type === RespType.Map || n.type === RespType.Array) &&
    Array.isArray(n.items) &&
    n.items.length % 2 === 0
  );
}

/** True for an array (`*`) with elements. */
export function isArray(n: RespNode | undefined): n is RespNode & { items: RespNode[] } {
  return n !== undefined && n.type === RespType.Array && Array.isArray(n.items);
}

/** The value of `key` in a map-like node. */
export function mapGet(n: RespNode & { items: RespNode[] }, key: string): RespNode | undefined {
  for (let i = 0; i + 1 < n.items.length; i += 2) if (textOf(n.items[i]) === key) return n.items[i + 1];
  return undefined;
}

/** True for a reply that is an error (`-` or `!`): passed through untouched. */
export function isErrorType(type: number): boolean {
  return type === RespType.Error || type === RespType.BlobError;
}
