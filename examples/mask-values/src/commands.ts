/**
 * The reply shapes of the reads this middleware masks: `value` one bulk string, `values` an array
 * of them, `mget` an array with one value per key argument, `hash` field/value pairs (a flat
 * array in RESP2, a map in RESP3).
 */
export type Shape = 'value' | 'values' | 'mget' | 'hash';

/** Reads whose replies are masked, and how. Every one takes its key as the first argument (MGET: all). */
export const READS: Readonly<Record<string, Shape>> = {
  GET: 'value',
  GETEX: 'value',
  GETDEL: 'value',
  GETRANGE: 'value',
  SUBSTR: 'value',
  HGET: 'value',
  MGET: 'mget',
  HMGET: 'values',
  HVALS: 'values',
  HGETALL: 'hash',
};

/**
 * Commands refused when they name a masked key: their replies would reveal a value the mask cannot
 * cover (a dump, a sort by it, a copy under another name, a script reading it), or they return the
 * old value of a write (GETSET, SET … GET). The value is where the key sits in the arguments;
 * `script` reads the keys of EVAL/FCALL (`numkeys` then the keys).
 */
export const REFUSED: Readonly<Record<string, number | 'script' | 'set'>> = {
  DUMP: 1,
  GETSET: 1,
  SET: 'set',
  SORT: 1,
  SORT_RO: 1,
  LCS: 1,
  COPY: 1,
  RENAME: 1,
  RENAMENX: 1,
  MOVE: 1,
  HRANDFIELD: 1,
  HSCAN: 1,
  LRANGE: 1,
  LINDEX: 1,
  LPOS: 1,
  SMEMBERS: 1,
  SRANDMEMBER: 1,
  EVAL: 'script',
  EVALSHA: 'script',
  EVAL_RO: 'script',
  EVALSHA_RO: 'script',
  FCALL: 'script',
  FCALL_RO: 'script',
};

/** The keys a `REFUSED` command would reveal (none for a SET without GET). */
export function refusedKeys(name: string, args: readonly Buffer[]): string[] {
  const where = REFUSED[name];
  if (where === undefined) return [];
  if (where === 'set')
    return args.some((a, i) => i >= 3 && a.toString('latin1').toUpperCase() === 'GET')
      ? [args[1]!.toString('latin1')]
      : [];
  if (where === 'script') {
    const n = Number(args[2]?.toString('latin1'));
    return Number.isInteger(n) && n > 0 ? args.slice(3, 3 + n).map((a) => a.toString('latin1')) : [];
  }
  const key = args[where];
  return key ? [key.toString('latin1')] : [];
}
