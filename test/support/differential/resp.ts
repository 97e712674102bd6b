// A RESP2/RESP3 reply parser of the differential suite's own, written independently of slotrelay's
// scanners so that a bug there cannot hide itself here. It finds frame boundaries in bytes that
// arrive in any split, builds a tree that re-encodes to the very same bytes, and describes a frame
// in one readable line for failure messages.

/** One reply frame as a tree. `type` is its first byte as a character (`+ - : $ * % ~ > _ , # ( = ! |`). */
export interface RespTree {
  type: string;
  /** Line types (`+ - : _ , # (`): the line without CRLF. */
  line?: string;
  /** Bulk types (`$ = !`): the payload; `null` for a RESP2 nil (`$-1`). */
  data?: Buffer | null;
  /** Aggregates (`* ~ > % |`): the elements (maps and attributes: key, value, key, value …); `null` for `*-1`. */
  items?: RespTree[] | null;
  /** A RESP3 attribute (`|`) sent before this value. */
  attribute?: RespTree;
}

/** Not enough bytes yet: the frame needs at least `need` bytes from the start of the buffer. */
export interface Incomplete {
  need: number;
}

const CR = 0x0d;
const LINE_TYPES = '+-:_,#(';
const BULK_TYPES = '$=!';
const AGG_TYPES = '*~>%|';

export class RespSyntaxError extends Error {}

function lineEnd(buf: Buffer, pos: number): number {
  const i = buf.indexOf(CR, pos);
  if (i < 0 || i + 1 >= buf.length) return -1;
  if (buf[i + 1] !== 0x0a) throw new RespSyntaxError(`CR without LF at ${i}`);
  return i;
}

/**
 * Parse one frame at `pos`: the tree and where it ends, or how many bytes (from the start of
 * `buf`) it needs at least. Throws `RespSyntaxError` on bytes that are not RESP.
 */
export function parseFrame(buf: Buffer, pos = 0): { tree: RespTree; end: number } | Incomplete {
  if (pos >= buf.length) return { need: pos + 1 };
  const type = String.fromCharCode(buf[pos]!);
  const eol = lineEnd(buf, pos + 1);
  if (eol < 0) return { need: buf.length + 1 };
  const header = buf.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  if (LINE_TYPES.includes(type)) return { tree: { type, line: header }, end: next };
  if (!/^-?\d+$/.test(header)) throw new RespSyntaxError(`bad length ${JSON.stringify(header)} after ${type}`);
  const n = Number(header);
  if (BULK_TYPES.includes(type)) {
    if (n < 0) return { tree: { type, data: null }, end: next };
    const end = next + n + 2;
    if (buf.length < end) return { need: end };
    if (buf[end - 2] !== CR || buf[end - 1] !== 0x0a) throw new RespSyntaxError(`bulk of ${n} not ended by CRLF`);
    return { tree: { type, data: buf.subarray(next, next + n) }, end };
  }
  if (AGG_TYPES.includes(type)) {
    if (n < 0) return { tree: { type, items: null }, end: next };
    const count = type === '%' || type === '|' ? 2 * n : n;
    const items: RespTree[] = [];
    let at = next;
    for (let i = 0; i < count; i++) {
      const r = parseFrame(buf, at);
      if ('need' in r) return r;
      items.push(r.tree);
      at = r.end;
    }
    if (type === '|') {
      // An attribute belongs to the value after it.
      const r = parseFrame(buf, at);
      if ('need' in r) return r;
      return { tree: { ...r.tree, attribute: { type, items } }, end: r.end };
    }
    return { tree: { type, items }, end: at };
  }
  throw new RespSyntaxError(`unknown type byte 0x${buf[pos]!.toString(16)}`);
}

/** Encode a tree back to RESP (the exact bytes it was parsed from, if unchanged). */
export function encodeTree(t: RespTree): Buffer {
  const parts: Buffer[] = [];
  const walk = (n: RespTree) => {
    if (n.attribute) walk(n.attribute);
    if (n.line !== undefined) parts.push(Buffer.from(`${n.type}${n.line}\r\n`, 'latin1'));
    else if (n.data !== undefined) {
      if (n.data === null) parts.push(Buffer.from(`${n.type}-1\r\n`));
      else parts.push(Buffer.from(`${n.type}${n.data.length}\r\n`), n.data, Buffer.from('\r\n'));
    } else if (n.items !== undefined) {
      if (n.items === null) parts.push(Buffer.from(`${n.type}-1\r\n`));
      else {
        const count = n.type === '%' || n.type === '|' ? n.items.length / 2 : n.items.length;
        parts.push(Buffer.from(`${n.type}${count}\r\n`));
        n.items.forEach(walk);
      }
    }
  };
  walk(t);
  return Buffer.concat(parts);
}

/** One readable line for a frame; payloads over `max` bytes are shown by length, head and tail. */
export function describeTree(t: RespTree, max = 80): string {
  const attr = t.attribute ? `${describeTree(t.attribute, max)} ` : '';
  if (t.line !== undefined) return `${attr}${t.type}${t.line}`;
  if (t.data !== undefined) {
    if (t.data === null) return `${attr}${t.type}-1`;
    const s =
      t.data.length <= max
        ? JSON.stringify(t.data.toString('latin1'))
        : `${JSON.stringify(t.data.subarray(0, 24).toString('latin1'))}…(${t.data.length} bytes)…${JSON.stringify(
            t.data.subarray(t.data.length - 24).toString('latin1'),
          )}`;
    return `${attr}${t.type}${s}`;
  }
  if (t.items === null || t.items === undefined) return `${attr}${t.type}-1`;
  return `${attr}${t.type}[${t.items.map((i) => describeTree(i, max)).join(', ')}]`;
}

/** A request as RESP multibulk bytes. */
export function command(...args: Array<string | number | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
