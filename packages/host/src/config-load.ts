import fs from 'node:fs';
import { parseDocument } from 'yaml';
import { SECRET_FIELDS, type SlotrelayConfig } from '@slotrelay/core/internal';
import { ConfigError, validateConfig } from './config.js';
import { jsonPointerToPath } from './config-errors.js';

/** Whether a config file is YAML (by its extension: `.yaml`, `.yml`); anything else is JSON. */
export function isYamlFile(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

/**
 * Read, parse (JSON or YAML by extension), resolve environment references and validate a config
 * file. Throws `ConfigError` with one line per problem: every YAML syntax error, every missing
 * variable and every schema error at once.
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): SlotrelayConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const doc = parseConfigText(text, path);
  const envErrors = resolveEnvRefs(doc, env);
  try {
    const config = validateConfig(doc, env);
    if (envErrors.length) throw new ConfigError(envErrors.join('\n'));
    return config;
  } catch (e) {
    if (!(e instanceof ConfigError) || envErrors.length === 0) throw e;
    throw new ConfigError([...new Set([...envErrors, ...e.lines])].join('\n'));
  }
}

/** The document a config file's text holds. Throws `ConfigError` (every YAML error, one line each). */
export function parseConfigText(text: string, path: string): unknown {
  if (!isYamlFile(path)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new ConfigError(`config: ${path} is not valid JSON: ${(e as Error).message}`);
    }
  }
  // YAML 1.2 (no `yes`/`no` booleans, no `0755` octals); a repeated key is an error, as in JSON Schema terms it is ambiguous.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors
        .map((e) => {
          const at = e.linePos?.[0];
          const where = at ? ` at line ${at.line}, column ${at.col}` : '';
          const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
          return `config: ${path} is not valid YAML${where}: ${what}`;
        })
        .join('\n'),
    );
  }
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

/** `{"env": "NAME"}`: a secret read from the environment when the file is loaded. */
export function isEnvRef(v: unknown): v is { env: string } {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as { env?: unknown }).env === 'string'
  );
}

/**
 * Replace, in place, every secret field (`SECRET_FIELDS`: `redisPassword`, `adminPassword`) whose
 * value is `{"env": "NAME"}` by the value of that variable. Returns one line per variable that is
 * not set (or empty) and per secret given as another object; such a field is left as a placeholder
 * string, so that the schema still reports every other problem. Only files are read this way:
 * a network patch may not name a variable (`envRefInPatch`).
 */
export function resolveEnvRefs(doc: unknown, env: NodeJS.ProcessEnv, pointer = ''): string[] {
  if (doc === null || typeof doc !== 'object') return [];
  const errors: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const here = `${pointer}/${k}`;
    if (SECRET_FIELDS.includes(k) && v !== null && typeof v === 'object') {
      const field = jsonPointerToPath(here);
      if (!isEnvRef(v)) {
        errors.push(`config: ${field} should be a string or {"env": "VARIABLE"}, instead got an object`);
      } else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.env)) {
        errors.push(`config: ${field}: '${v.env}' is not an environment variable name`);
      } else if (!env[v.env]) {
        errors.push(`config: ${field}: the environment variable ${v.env} is not set (or is empty)`);
      } else {
        (doc as Record<string, unknown>)[k] = env[v.env];
        continue;
      }
      (doc as Record<string, unknown>)[k] = 'unresolved';
      continue;
    }
    errors.push(...resolveEnvRefs(v, env, here));
  }
  return errors;
}
