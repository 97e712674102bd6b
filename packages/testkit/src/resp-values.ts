/** A reply as `runMiddleware` reports it: plain JS values, errors as `{ error }` so they compare with `toEqual`. */
export type Value = string | number | boolean | null | bigint | { error: string } | Value[] | { map: Value[] };

/**
 * Parses a byte string of whole RESP2/RESP3 frames into plain values: simple and bulk strings
 * (latin1) → string, integers and doubles → number, nulls → null, arrays/sets/pushes → arrays,
 * maps → `{ map: [k1, v1, …] }`, errors → `{ error: 'ERR …' }`. Attributes are skipped.
 * Throws on an incomplete frame.
 */
export function parseValues(bytes: Buffer | string): Value[] {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const out: Value[] = [];
  let pos = 0;
  const line = (): string => {
    const end = buf.indexOf('\r\n', pos, 'latin1');
    if (end < 0) throw new Error(`incomplete RESP at byte ${pos}`);
    const s = buf.toString('latin1', pos, end);
    pos = end + 2;
    return s;
  };
  const one = (): Value => {
    const type = String.fromCharCode(buf[pos++]!);
    const text = line();
    switch (type) {
      case '+':
        return text;
      case '-':
        return { error: text };
      case ':':
      case ',':
        return Number(text);
      case '(':
        return BigInt(text);
      case '#':
        return text === 't';
      case '_':
        return null;
      case '$':
      case '!':
      case '=': {
        const n = Number(text);
        if (n < 0) return null;
        const s = buf.toString('latin1', pos, pos + n);
        pos += n + 2;
        if (pos > buf.length) throw new Error('incomplete RESP bulk');
        return type === '!' ? { error: s } : type === '=' ? s.slice(4) : s;
      }
      case '*':
      case '~':
      case '>': {
        const n = Number(text);
        if (n < 0) return null;
        return Array.from({ length: n }, one);
      }
      case '%':
        return { map: Array.from({ length: Number(text) * 2 }, one) };
      case '|':
        for (let i = 0; i < Number(text) * 2; i++) one();
        return one();
      default:
        throw new Error(`not RESP: type byte '${type}' at byte ${pos - text.length - 3}`);
    }
  };
  while (pos < buf.length) out.push(one());
  return out;
}
