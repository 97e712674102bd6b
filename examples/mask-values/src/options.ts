/** The settings of mask-values, parsed once per listener. */
export interface MaskOptions {
  /** The mask's bytes (the `mask` setting, default `****`). */
  readonly mask: Buffer;
  /** True when `key` matches one of the `patterns`. */
  matches(key: string): boolean;
  /** True when `user` is one of the `exemptUsers`. */
  exempt(user: string): boolean;
}

/**
 * Parses `middlewareConfig["mask-values"]`: `patterns` (glob-style, `*` any run, `?` one
 * character, matched against the whole key), `mask` (default `****`), `exemptUsers` (ACL user
 * names that see real values). Throws naming the setting when one is wrong.
 */
export function parseOptions(raw: Readonly<Record<string, unknown>>): MaskOptions {
  const patterns = strings(raw.patterns, 'patterns');
  const exemptUsers = new Set(strings(raw.exemptUsers ?? [], 'exemptUsers'));
  const mask = raw.mask ?? '****';
  if (typeof mask !== 'string')
    throw new Error(`mask-values: mask should be a string, instead got ${JSON.stringify(mask)}`);
  const regex = patterns.length === 0 ? /$^/ : new RegExp(`^(?:${patterns.map(globToRegex).join('|')})$`, 's');
  return {
    mask: Buffer.from(mask),
    matches: (key) => regex.test(key),
    exempt: (user) => exemptUsers.has(user),
  };
}

function strings(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new Error(`mask-values: ${what} should be an array of strings, instead got ${JSON.stringify(v)}`);
  }
  return v;
}

function globToRegex(glob: string): string {
  return [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
}
