/**
 * The value read by the last `lengthEnd` that succeeded. A module scratch rather than a second
 * return value: scanning is synchronous and never re-entered, and this keeps the helper inlinable.
 */
export const parsed = { length: 0 };

/**
 * Reads the decimal length (a RESP header's count or size) starting at `buf[p]`, at most
 * `maxDigits` digits, into `parsed.length`; returns the index of the CR that must end it, or -1 (no
 * digit, too many, a leading zero, a sign, or anything but CR after them — the callers' state machines report those).
 * One or two digits, nearly every length on the wire, are read without a loop.
 */
export function lengthEnd(buf: Uint8Array, p: number, end: number, maxDigits: number): number {
  const d0 = buf[p]!;
  const d1 = buf[p + 1]!;
  if (d1 === 13 && d0 >= 48 && d0 <= 57) {
    parsed.length = d0 - 48;
    return p + 1;
  }
  if (d0 >= 49 && d0 <= 57 && d1 >= 48 && d1 <= 57 && buf[p + 2] === 13) {
    parsed.length = (d0 - 48) * 10 + (d1 - 48);
    return p + 2;
  }
  return longLengthEnd(buf, p, end, maxDigits);
}

/** `lengthEnd` past two digits (or failing): out of line, so the common case stays small enough to inline. */
function longLengthEnd(buf: Uint8Array, p: number, end: number, maxDigits: number): number {
  const start = p;
  let n = 0;
  let c = 0;
  while (p < end && (c = buf[p]!) >= 48 && c <= 57) {
    n = n * 10 + (c - 48);
    p++;
  }
  // A leading zero ("01") is no length to Redis's string2ll: the state machines reject it.
  if (p === start || p === end || c !== 13 || p - start > maxDigits || (buf[start] === 48 && p - start > 1)) return -1;
  parsed.length = n;
  return p;
}
