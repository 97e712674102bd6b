import type { ErrorObject } from 'ajv';
import { SECRET_FIELDS } from '@slotrelay/core/internal';

/**
 * Every schema error of one document as one line each (without the `config: ` prefix). An unknown
 * field is named as unknown, with the closest known field when there is one (`localport` → did you
 * mean 'localPort'?), and the `required` error that the same typo causes is left out: the operator
 * misspelt a field, they did not forget it. Values of secret fields are never quoted.
 * Needs the errors of a validator compiled with `allErrors` and `verbose`.
 */
export function describeSchemaErrors(errors: readonly ErrorObject[], root: unknown): string[] {
  const misspelt = new Set<string>();
  const lines: string[] = [];
  for (const e of errors) {
    if (e.keyword !== 'additionalProperties') continue;
    const unknown = (e.params as { additionalProperty: string }).additionalProperty;
    const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const guess = closest(unknown, known);
    if (guess !== undefined) misspelt.add(`${e.instancePath}\0${guess}`);
    const where = jsonPointerToPath(e.instancePath) || 'the top level';
    lines.push(`${where} has an unknown field '${unknown}'${guess === undefined ? '' : ` (did you mean '${guess}'?)`}`);
  }
  for (const e of errors) {
    if (e.keyword === 'additionalProperties') continue;
    if (e.keyword === 'required' && misspelt.has(`${e.instancePath}\0${requiredField(e)}`)) continue;
    lines.push(describeSchemaError(e, root));
  }
  return [...new Set(lines)];
}

function requiredField(e: ErrorObject): string {
  return (e.params as { missingProperty: string }).missingProperty;
}

function describeSchemaError(e: ErrorObject, root: unknown): string {
  const path = jsonPointerToPath(e.instancePath);
  const value = valueAt(root, e.instancePath);
  const secret = SECRET_FIELDS.includes(lastSegment(e.instancePath));
  const got = (v: unknown) =>
    v === undefined ? 'nothing' : secret ? `a value of type ${v === null ? 'null' : typeof v}` : JSON.stringify(v);
  switch (e.keyword) {
    case 'required':
      return `${path || 'the top level'} is missing the required field '${requiredField(e)}'`;
    case 'type':
      return `${path} should be ${(e.params as { type: string }).type}, instead got ${got(value)}`;
    case 'enum':
      return `${path} should be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}, instead got ${got(value)}`;
    case 'const':
      return `${path} should be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, instead got ${got(value)}`;
    default:
      return `${path} ${e.message ?? 'is invalid'}, instead got ${got(value)}`;
  }
}

/** The known name an unknown one most likely meant: same letters in another case, or at most 2 edits away. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(name.length / 3));
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d <= bestDistance) {
      best = k;
      bestDistance = d - 1;
    }
  }
  return best;
}

/** Levenshtein distance (names are short: a plain two-row table). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function lastSegment(pointer: string): string {
  return pointer.slice(pointer.lastIndexOf('/') + 1);
}

/** `/connections/0/localPort` → `connections[0].localPort`. */
export function jsonPointerToPath(p: string): string {
  return p
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

function valueAt(root: unknown, pointer: string): unknown {
  let v: unknown = root;
  for (const s of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[s.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}
