import jsonpatch, { type Operation } from 'fast-json-patch';
import { SECRET_FIELDS } from '@slotrelay/core/internal';

/** What a masked secret reads as. */
export const MASK = '********';

/**
 * A deep copy of a JSON-like value with every property named in `fields` replaced by `MASK`,
 * at any depth (`adminPassword` at the top, `redisPassword` in each connection). The host's
 * `currentConfig()` already masks; this is the second line of defence, so a host bug cannot put a
 * password on an admin connection.
 */
export function maskSecrets<T>(value: T, fields: readonly string[] = SECRET_FIELDS): T {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = fields.includes(k) && x !== undefined ? MASK : walk(x);
    return out;
  };
  return walk(value) as T;
}

/** CONFIG GET's text: the config, secrets masked, as indented JSON. */
export function formatConfigJson(config: unknown): string {
  return JSON.stringify(maskSecrets(config), null, 2);
}

const RFC6902_OPS: readonly string[] = ['add', 'remove', 'replace', 'move', 'copy', 'test'];
const BANNED_SEGMENTS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * A parsed patch (`ops`), or the error reply text (`error`, without `-`) and the same without
 * anything quoted from the input (`loggable`: V8's JSON errors quote the text, maybe a password).
 */
export type ParsedPatch =
  | { readonly ops: Operation[]; readonly error?: undefined; readonly loggable?: undefined }
  | { readonly ops?: undefined; readonly error: string; readonly loggable: string };

const refuse = (error: string, loggable = error): ParsedPatch => ({ error, loggable });

const kindOf = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/**
 * Parses the argument of `CONFIG PATCH`: JSON text that must be a non-empty array of RFC 6902
 * operations. The shape is checked here (with fast-json-patch's `validate`, plus what it lets
 * through: its internal `_get` op and prototype paths) so a malformed op gets a precise error
 * naming its index; whether the patched config is valid is the host's call (`FleetControl.patch`).
 */
export function parseConfigPatch(json: string): ParsedPatch {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    return refuse(`ERR CONFIG PATCH: invalid JSON: ${(e as Error).message}`, 'ERR CONFIG PATCH: invalid JSON');
  }
  if (!Array.isArray(value)) {
    return refuse(`ERR CONFIG PATCH wants a JSON array of RFC 6902 operations, instead got ${kindOf(value)}`);
  }
  if (value.length === 0) return refuse('ERR CONFIG PATCH: the patch has no operations');
  for (let i = 0; i < value.length; i++) {
    const op: unknown = value[i];
    if (op === null || typeof op !== 'object' || Array.isArray(op)) continue; // validate names it below
    const name = (op as { op?: unknown }).op;
    // fast-json-patch looks ops up in a plain object, so `_get`, `toString` … would pass its check.
    if (typeof name === 'string' && !RFC6902_OPS.includes(name)) {
      return refuse(
        `ERR CONFIG PATCH: operation #${i}: op should be one of ${RFC6902_OPS.join(', ')}, instead got '${name}'`,
      );
    }
  }
  const err = jsonpatch.validate(value as Operation[]);
  if (err) {
    const why = err.message.split('\n')[0];
    return refuse(`ERR CONFIG PATCH: operation #${err.index ?? 0} is invalid: ${why} (${err.name})`);
  }
  const ops = value as Operation[];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const from = 'from' in op ? op.from : undefined;
    for (const p of from === undefined ? [op.path] : [op.path, from]) {
      const bad = segments(p).find((seg) => BANNED_SEGMENTS.includes(seg));
      // Prototype pollution: such a path can only be an attack on whoever applies the patch.
      if (bad !== undefined) return refuse(`ERR CONFIG PATCH: operation #${i}: path segment '${bad}' is not allowed`);
    }
    // Secrets may be set or removed, never read back: copy/move would land them in a field CONFIG
    // GET shows, and repeated `test` ops would be a guessing oracle.
    const secretRead = op.op === 'test' ? op.path : from;
    const secret =
      secretRead === undefined ? undefined : segments(secretRead).find((seg) => SECRET_FIELDS.includes(seg));
    if (secret !== undefined)
      return refuse(`ERR CONFIG PATCH: operation #${i}: '${op.op}' cannot read the secret field '${secret}'`);
  }
  return { ops };
}

/** The unescaped segments of a JSON pointer (`/a~1b/c` → `a/b`, `c`). */
function segments(pointer: string): string[] {
  return pointer.split('/').slice(1).map(jsonpatch.unescapePathComponent);
}

/** The ops as they may be logged: values of secret fields (at the path or nested in a value) masked. */
export function opsForLog(ops: readonly Operation[]): unknown[] {
  return ops.map((op) => {
    const o = { ...op } as Operation & { value?: unknown };
    if (!('value' in o)) return o;
    const last = jsonpatch.unescapePathComponent(o.path.slice(o.path.lastIndexOf('/') + 1));
    o.value = SECRET_FIELDS.includes(last) ? MASK : maskSecrets(o.value);
    return o;
  });
}
