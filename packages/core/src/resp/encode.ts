import { RespType } from './constants.js';
import type { RespNode } from './decode.js';

/** The protocol a session speaks: 2 until a successful `HELLO 3`. */
export type Protocol = 2 | 3;

const CRLF = '\r\n';

/** Encodes a node back to wire bytes, recomputing every length. */
export function encodeReply(node: RespNode): Buffer {
  const parts: Buffer[] = [];
  writeNode(node, parts);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function writeNode(node: RespNode, out: Buffer[]): void {
  if (node.attributes) {
    out.push(Buffer.from(`|${node.attributes.length / 2}${CRLF}`, 'latin1'));
    for (const a of node.attributes) writeNode(a, out);
  }
  const t = String.fromCharCode(node.type);
  switch (node.type) {
    case RespType.BulkString:
    case RespType.BlobError:
      if (node.data === null || node.data === undefined) {
        out.push(Buffer.from(`$-1${CRLF}`, 'latin1'));
      } else {
        out.push(Buffer.from(`${t}${node.data.length}${CRLF}`, 'latin1'), node.data, CRLF_BUF);
      }
      return;
    case RespType.Verbatim: {
      const data = node.data ?? Buffer.alloc(0);
      out.push(Buffer.from(`=${data.length + 4}${CRLF}${node.format ?? 'txt'}:`, 'latin1'), data, CRLF_BUF);
      return;
    }
    case RespType.Array:
    case RespType.Set:
    case RespType.Push:
    case RespType.Map: {
      if (node.items === null || node.items === undefined) {
        out.push(Buffer.from(`${t}-1${CRLF}`, 'latin1'));
        return;
      }
      const n = node.type === RespType.Map ? node.items.length / 2 : node.items.length;
      out.push(Buffer.from(`${t}${n}${CRLF}`, 'latin1'));
      for (const item of node.items) writeNode(item, out);
      return;
    }
    default:
      out.push(Buffer.from(`${t}${node.text ?? ''}${CRLF}`, 'latin1'));
  }
}

const CRLF_BUF = Buffer.from(CRLF);

/** Node builders for replies a proxy makes itself. Strings are UTF-8 for bulk payloads. */
export const node = {
  simple: (text: string): RespNode => ({ type: RespType.SimpleString, text: toLatin1(text) }),
  error: (text: string): RespNode => ({ type: RespType.Error, text: toLatin1(text) }),
  integer: (n: number | bigint): RespNode => ({ type: RespType.Integer, text: String(n) }),
  bulk: (v: string | Buffer | null): RespNode => ({
    type: RespType.BulkString,
    data: v === null ? null : typeof v === 'string' ? Buffer.from(v) : v,
  }),
  array: (items: RespNode[]): RespNode => ({ type: RespType.Array, items }),
  /** A map: `%` in RESP3, a flat array in RESP2 (as Redis's `addReplyMapLen`). */
  map: (pairs: Array<[RespNode, RespNode]>, proto: Protocol): RespNode => ({
    type: proto === 3 ? RespType.Map : RespType.Array,
    items: pairs.flat(),
  }),
  /** Verbatim text: `=` with `txt:` in RESP3, a bulk string in RESP2 (as Redis's `addReplyVerbatim`). */
  verbatim: (text: string, proto: Protocol): RespNode =>
    proto === 3
      ? { type: RespType.Verbatim, format: 'txt', data: Buffer.from(text) }
      : { type: RespType.BulkString, data: Buffer.from(text) },
  /** A null: `_` in RESP3, `$-1` in RESP2. */
  null: (proto: Protocol): RespNode =>
    proto === 3 ? { type: RespType.Null, text: '' } : { type: RespType.BulkString, data: null },
};

/** Line replies cannot contain CR or LF; Redis replaces them with spaces (`addReplyErrorLength`). */
function toLatin1(text: string): string {
  return Buffer.from(text.replace(/[\r\n]+/g, ' ')).toString('latin1');
}

/** `-<text>\r\n`, newlines in `text` replaced by spaces. */
export function encodeError(text: string): Buffer {
  return encodeReply(node.error(text));
}

/** `+<text>\r\n`. */
export function encodeSimple(text: string): Buffer {
  return encodeReply(node.simple(text));
}

/** Encodes a client command as an array of bulk strings. */
export function encodeCommand(args: ReadonlyArray<string | Buffer | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}${CRLF}`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}${CRLF}`), b, CRLF_BUF);
  }
  return Buffer.concat(parts);
}
