import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const FALLBACK_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/sbin', '/opt/homebrew/bin'];

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...FALLBACK_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function requireExecutable(name: string): string {
  const found = findExecutable(name);
  if (found === undefined) {
    throw new Error(
      `${name} not found (searched PATH and ${FALLBACK_DIRS.join(', ')}). ` +
        'Install Redis 7: `apt-get install -y redis-server redis-tools` (Debian/Ubuntu).',
    );
  }
  return found;
}

/**
 * Absolute path of the `redis-server` binary (searched in PATH, then /usr/bin, /usr/local/bin …).
 * @throws Error explaining `apt-get install -y redis-server redis-tools` when it is missing.
 */
export function redisServerPath(): string {
  return requireExecutable('redis-server');
}

/** Absolute path of `redis-cli`; throws like {@link redisServerPath} when missing. */
export function redisCliPath(): string {
  return requireExecutable('redis-cli');
}
