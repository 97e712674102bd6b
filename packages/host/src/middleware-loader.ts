import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ContainerModule } from 'inversify';
import { ConfigError } from './config.js';
import { installHint } from './optional.js';

/** A middleware package, loaded. */
export interface LoadedMiddleware {
  readonly name: string;
  readonly module: ContainerModule;
}

/**
 * Loads middleware packages by name, in order. A name is resolved next to the config file first (a
 * deployment's own packages), then from slotrelay's own install (the bundled middleware). Each
 * package's default export must be an inversify `ContainerModule` that binds the core `Middleware`
 * token. Every name is resolved before the first import, so a list with a missing or repeated name
 * runs no package's code. Throws `ConfigError` naming the package.
 */
export async function loadMiddleware(names: readonly string[], configDir: string): Promise<LoadedMiddleware[]> {
  const seen = new Set<string>();
  const files = names.map((name) => {
    if (seen.has(name)) throw new ConfigError(`config: middleware '${name}' is listed twice`);
    seen.add(name);
    return resolvePackage(name, configDir);
  });
  const out: LoadedMiddleware[] = [];
  for (const [i, name] of names.entries()) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(files[i]!).href)) as { default?: unknown };
    } catch (e) {
      throw new ConfigError(`config: middleware '${name}' failed to load: ${(e as Error).message}`);
    }
    if (!(mod.default instanceof ContainerModule)) {
      throw new ConfigError(`config: middleware '${name}' should export an inversify ContainerModule as its default export`);
    }
    out.push({ name, module: mod.default });
  }
  return out;
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
