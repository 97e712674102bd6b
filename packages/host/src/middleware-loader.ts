import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ContainerModule } from 'inversify';
import { isMiddlewareModule } from '@slotrelay/core';
import { ConfigError } from './config.js';
import { installHint } from './optional.js';

/** A middleware package, loaded. */
export interface LoadedMiddleware {
  readonly name: string;
  readonly module: ContainerModule;
}

/**
 * Loads middleware packages by name, in order. A name is resolved next to the config file first (a
 * deployment's own packages), then from slotrelay's own install (the bundled middleware); a path
 * (absolute, or relative to the config file) names a package folder. Each package's default export
 * must be a `ContainerModule` that binds the core `Middleware` token — from `defineMiddleware` or
 * inversify, from any copy of either: a package installed in its own folder has its own copies of
 * its peer dependencies, so the module is checked by shape (`isMiddlewareModule`), never by
 * `instanceof`, and loaded through a module of the host's own inversify. Every name is resolved before the first import, so a list with a missing or repeated name
 * runs no package's code. Throws `ConfigError` naming the package.
 */
export async function loadMiddleware(names: readonly string[], configDir: string): Promise<LoadedMiddleware[]> {
  const files = resolveMiddleware(names, configDir);
  const out: LoadedMiddleware[] = [];
  for (const [i, name] of names.entries()) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(files[i]!).href)) as { default?: unknown };
    } catch (e) {
      throw new ConfigError(`config: middleware '${name}' failed to load: ${(e as Error).message}`);
    }
    const found = mod.default;
    if (!isMiddlewareModule(found)) {
      throw new ConfigError(
        `config: middleware '${name}': ${describeExport(found)}, expected a ContainerModule (from defineMiddleware or inversify) as the default export`,
      );
    }
    // Module ids are counted per copy of inversify: give the host's container one of its own.
    out.push({ name, module: new ContainerModule((options) => found.load(options)) });
  }
  return out;
}

/**
 * The entry file of each middleware name, resolved as `loadMiddleware` does, without importing
 * anything (`slotrelay validate`). Throws `ConfigError` naming a missing or repeated package.
 */
export function resolveMiddleware(names: readonly string[], configDir: string): string[] {
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw new ConfigError(`config: middleware '${name}' is listed twice`);
    seen.add(name);
    return resolvePackage(name, configDir);
  });
}

function resolvePackage(name: string, configDir: string): string {
  const bases = [path.join(configDir, 'noop.js'), import.meta.url];
  for (const base of bases) {
    try {
      return createRequire(base).resolve(name);
    } catch {
      // try the next place
    }
  }
  if (!name.startsWith('.') && !path.isAbsolute(name)) {
    throw new ConfigError(`config: middleware '${name}' is not installed ${installHint(name)}`);
  }
  const p = path.resolve(configDir, name);
  try {
    return createRequire(path.join(configDir, 'noop.js')).resolve(p);
  } catch {
    throw new ConfigError(`config: middleware '${name}' cannot be found (no package or module at ${p})`);
  }
}

/** What a default export that is not a middleware module is, in a few words. */
function describeExport(value: unknown): string {
  if (value === undefined) return 'the package has no default export';
  if (value === null) return 'the default export is null';
  if (typeof value === 'function') return 'the default export is a function';
  if (typeof value !== 'object') return `the default export is a ${typeof value}`;
  return 'the default export is an object without load() and id';
}
