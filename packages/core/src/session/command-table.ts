/**
 * Matches a command name in a buffer against a fixed set of names, case-insensitively and without
 * allocating: names are bucketed by length and first letter, so a command nobody watches (GET, SET …)
 * usually costs two array reads.
 */
export class CommandTable {
  private readonly buckets: Array<Array<{ name: string; lower: Uint8Array }> | undefined> = [];
  /**
   * 1 where a bucket exists, by `(len << 5) | (firstByte & 0x1f)` (len 1–31): a scanner checks this
   * inline and calls `match` only on a hit, so an unwatched name costs one typed-array read.
   */
  readonly maybe = new Uint8Array(32 << 5);
  readonly names: ReadonlySet<string>;

  constructor(names: Iterable<string>) {
    const set = new Set<string>();
    for (const n of names) set.add(n.toUpperCase());
    this.names = set;
    for (const name of set) {
      const lower = Buffer.from(name.toLowerCase(), 'latin1');
      const key = bucketKey(lower.length, lower[0]!);
      (this.buckets[key] ??= []).push({ name, lower });
      if (lower.length <= 31) this.maybe[key] = 1;
    }
  }

  /** The watched name (upper case) that `buf[off, off+len)` spells, or undefined. */
  match(buf: Uint8Array, off: number, len: number): string | undefined {
    if (len <= 0 || len > 31) return undefined;
    const bucket = this.buckets[bucketKey(len, buf[off]! | 0x20)];
    if (bucket === undefined) return undefined;
    outer: for (const { name, lower } of bucket) {
      for (let i = 0; i < len; i++) {
        const c = buf[off + i]!;
        // ASCII letters fold to lower case; other bytes must match exactly.
        const folded = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
        if (folded !== lower[i]) continue outer;
      }
      return name;
    }
    return undefined;
  }
}

function bucketKey(len: number, first: number): number {
  return (len << 5) | (first & 0x1f);
}
