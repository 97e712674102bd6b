import { ProtocolError } from '../errors.js';
import { RespType } from './constants.js';

/**
 * One decoded RESP2/RESP3 value, keeping its wire type so a rewrite can encode it back exactly
 * (verbatim stays verbatim, a map stays a map, `$-1` stays `$-1` and `_` stays `_`).
 */
export interface RespNode {
  /** The type byte (`RespType`). */
  type: number;
  /** Line types (`+ - : , # ( _`): the text after the type byte, latin1 so every byte round-trips. */
  text?: string;
  /** `$ ! =`: the payload (for `=` without its `fmt:` prefix); `null` for `$-1`. */
  data?: Buffer | null;
  /** `=`: the three-character format, e.g. `txt`. */
  format?: string;
  /** `* ~ > % |`: the elements, maps flat (`k1, v1, k2, v2 …`); `null` for `*-1`. */
  items?: RespNode[] | null;
  /** A RESP3 attribute (`|`) that preceded this value, as a flat key/value list. */
  attributes?: RespNode[];
}

const LINE_TYPES = new Set<number>([
  RespType.SimpleString,
  RespType.Error,
  RespType.Integer,
  RespType.Double,
  RespType.Boolean,
  RespType.BigNumber,
  RespType.Null,
]);

/**
 * Decodes one complete reply frame `buf[start, end)`. Payload buffers are views into `buf` (no
 * copy): they stay valid as long as `buf` does. Throws `ProtocolError` if the bytes are not one
 * well-formed frame.
 */
export function decodeReply(buf: Buffer, start = 0, end = buf.length): RespNode {
  const r = { pos: start };
  const node = readNode(buf, r, end);
  if (r.pos !== end) throw new ProtocolError('trailing bytes after a reply frame');
  return node;
}

function readLine(buf: Buffer, r: { pos: number }, end: number): string {
  const cr = buf.indexOf(13, r.pos);
  if (cr < 0 || cr + 1 >= end || buf[cr + 1] !== 10) throw new ProtocolError('unterminated line');
  const text = buf.toString('latin1', r.pos, cr);
  r.pos = cr + 2;
  return text;
}

function readInt(buf: Buffer, r: { pos: number }, end: number): number {
  const text = readLine(buf, r, end);
  if (!/^-?\d+$/.test(text)) throw new ProtocolError(`invalid length '${text}'`);
  return Number(text);
}

function readNode(buf: Buffer, r: { pos: number }, end: number): RespNode {
  if (r.pos >= end) throw new ProtocolError('truncated reply');
  const type = buf[r.pos++]!;
  if (LINE_TYPES.has(type)) return { type, text: readLine(buf, r, end) };
  switch (type) {
    case RespType.BulkString:
    case RespType.BlobError:
    case RespType.Verbatim: {
      const n = readInt(buf, r, end);
      if (n === -1 && type === RespType.BulkString) return { type, data: null };
      if (n < 0 || r.pos + n + 2 > end) throw new ProtocolError('truncated bulk string');
      const s = r.pos;
      r.pos += n + 2;
      if (type === RespType.Verbatim) {
        if (n < 4 || buf[s + 3] !== 0x3a) throw new ProtocolError('verbatim string without a format');
        return { type, format: buf.toString('latin1', s, s + 3), data: buf.subarray(s + 4, s + n) };
      }
      return { type, data: buf.subarray(s, s + n) };
    }
    case RespType.Array:
    case RespType.Set:
    case RespType.Push:
    case RespType.Map:
    case RespType.Attribute: {
      const n = readInt(buf, r, end);
      if (n === -1 && type !== RespType.Push && type !== RespType.Attribute) return { type, items: null };
      if (n < 0) throw new ProtocolError('invalid aggregate length');
      const len = type === RespType.Map || type === RespType.Attribute ? n * 2 : n;
      const items: RespNode[] = new Array(len);
      for (let i = 0; i < len; i++) items[i] = readNode(buf, r, end);
      if (type === RespType.Attribute) {
        const value = readNode(buf, r, end);
        value.attributes = items;
        return value;
      }
      return { type, items };
    }
    default:
      throw new ProtocolError(`unexpected type byte 0x${type.toString(16)}`);
  }
}

/**
 * The arguments of one complete multibulk request `buf[start, end)`, as views into `buf`.
 * `argc` is the argument count the scanner reported.
 */
export function decodeMultibulkArgs(buf: Buffer, start: number, end: number): Buffer[] {
  const r = { pos: start };
  if (buf[r.pos++] !== RespType.Array) throw new ProtocolError("expected '*'");
  const n = requestHeader(buf, r, end);
  const args: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    if (buf[r.pos++] !== RespType.BulkString) throw new ProtocolError("expected '$'");
    const len = requestHeader(buf, r, end);
    args.push(buf.subarray(r.pos, r.pos + len));
    r.pos += len + 2;
  }
  return args;
}

/**
 * A request's count or length, framed as the request scanner (and Redis) frames it: the byte after
 * the CR is skipped unchecked (`*1\rx$4\r-PING\r\n` is PING to Redis).
 */
function requestHeader(buf: Buffer, r: { pos: number }, end: number): number {
  const cr = buf.indexOf(13, r.pos);
  if (cr < 0 || cr + 1 >= end) throw new ProtocolError('unterminated line');
  const n = Number(buf.toString('latin1', r.pos, cr));
  if (!Number.isSafeInteger(n)) throw new ProtocolError(`not an integer: ${buf.toString('latin1', r.pos, cr)}`);
  r.pos = cr + 2;
  return n;
}

/** A readable, JSON-friendly view of a node (for logs and tests): strings for text, arrays, objects for maps. */
export function toPlain(node: RespNode): unknown {
  switch (node.type) {
    case RespType.Null:
      return null;
    case RespType.Integer:
      return Number(node.text);
    case RespType.Boolean:
      return node.text === 't';
    case RespType.Double: {
      const t = node.text!.toLowerCase();
      return t === 'inf' ? Infinity : t === '-inf' ? -Infinity : Number(t);
    }
    case RespType.BulkString:
    case RespType.BlobError:
    case RespType.Verbatim:
      return node.data === null ? null : node.data!.toString();
    case RespType.Map: {
      const o: Record<string, unknown> = {};
      const it = node.items!;
      for (let i = 0; i < it.length; i += 2) o[String(toPlain(it[i]!))] = toPlain(it[i + 1]!);
      return o;
    }
    case RespType.Array:
    case RespType.Set:
    case RespType.Push:
      return node.items === null ? null : node.items!.map(toPlain);
    default:
      return node.text;
  }
}
