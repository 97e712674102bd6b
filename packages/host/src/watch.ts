import fs from 'node:fs';
import jsonpatch from 'fast-json-patch';
import type { Logger } from '@slotrelay/core';
import { loadConfigFile } from './config-load.js';
import type { Fleet } from './fleet.js';

/**
 * `--watch`: when the config file (JSON or YAML; `{"env": …}` secrets resolved again) changes,
 * diff it against the running config (fast-json-patch `compare`) and apply the difference through
 * `Fleet.patch` — the same path as CONFIG PATCH, as source `file`, so it may change the fields a
 * network patch may not (`allowNetworkPatch`). A file that does not validate is reported and
 * ignored; the running config stays. Polls (`fs.watchFile`) because editors often replace the file
 * rather than write it in place (and Kubernetes swaps a ConfigMap's files by a symlink).
 */
export function watchConfigFile(file: string, fleet: Fleet, log: Logger, intervalMs = 300): () => void {
  let last = safeRead(file);
  let busy: Promise<void> = Promise.resolve();
  const check = () => {
    busy = busy.then(async () => {
      const text = safeRead(file);
      if (text === null || text === last) return;
      last = text;
      let next;
      try {
        next = loadConfigFile(file);
      } catch (e) {
        log.error({ file, err: (e as Error).message }, 'config file change rejected; the running config stays');
        return;
      }
      const ops = jsonpatch.compare(fleet.rawConfig(), next);
      if (ops.length === 0) return;
      try {
        // The operator's own file: it may change what a network patch may not (listeners, seeds …).
        const summary = await fleet.patch(ops, 'file');
        log.info({ file, summary }, 'config file change applied');
      } catch (e) {
        log.error({ file, err: (e as Error).message }, 'config file change rejected; the running config stays');
      }
    });
  };
  fs.watchFile(file, { interval: intervalMs }, check);
  return () => fs.unwatchFile(file, check);
}

function safeRead(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
