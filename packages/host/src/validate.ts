import path from 'node:path';
import { wireAddress } from '@slotrelay/core/internal';
import { ConfigError, DEFAULT_MIDDLEWARE, resolveConnection } from './config.js';
import { loadConfigFile } from './config-load.js';
import { hostNameOf } from './instance-id.js';
import { resolveMiddleware } from './middleware-loader.js';

/** Options of `slotrelay validate`. */
export interface ValidateOptions {
  readonly config: string;
  /** The host name `instanceIdFrom: "ordinal"` reads, as `HOSTNAME` would give it (a pod's name). */
  readonly hostname?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * `slotrelay validate`: everything the proxy checks before it binds — the file read and parsed,
 * environment references resolved, the schema, addresses, instance IDs, TLS files, middleware
 * packages found (not imported: importing runs their code) — without binding or dialling anything.
 * Returns the exit code (0, or 2 with one line per problem) and the lines to print.
 */
export function validateCommand(o: ValidateOptions): { code: 0 | 2; stdout: string[]; stderr: string[] } {
  const env = { ...(o.env ?? process.env), ...(o.hostname !== undefined ? { HOSTNAME: o.hostname } : {}) };
  try {
    const config = loadConfigFile(o.config, env);
    resolveMiddleware(config.middleware ?? DEFAULT_MIDDLEWARE, path.dirname(path.resolve(o.config)));
    const n = config.connections.length;
    const stdout = [`${o.config}: valid (${n} connection${n === 1 ? '' : 's'})`];
    for (const c of config.connections) {
      const r = resolveConnection(c);
      const id = r.spec.mode === 'dynamic' ? `instance ${r.spec.instanceId} of ${r.spec.members.length}` : 'static';
      stdout.push(
        `  ${c.name}: ${c.active ? 'listens on' : 'inactive,'} ${c.localAddress}:${c.localPort}, ${id}, clients see ${wireAddress(r.advertised)}`,
      );
    }
    if (config.connections.some((c) => c.instanceIdFrom === 'ordinal'))
      stdout.push(`  host name read for instanceIdFrom: ${hostNameOf(env)}`);
    return { code: 0, stdout, stderr: [] };
  } catch (e) {
    if (e instanceof ConfigError) return { code: 2, stdout: [], stderr: e.lines };
    throw e;
  }
}
