/**
 * Preload (`node --import …/await-config.js cli.js --config <file> …`) that lets a proxy process
 * start before its config exists: the seeds of a cluster are known only once it runs, and on two
 * loaded cores loading six proxies' modules takes seconds, so it overlaps the cluster's start.
 * It loads the host's modules (cli.js then finds them cached), then waits for the file, which the
 * runner writes whole (rename) once the cluster is ready.
 */
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

const at = process.argv.indexOf('--config');
const file = at >= 0 ? process.argv[at + 1] : undefined;
if (file) {
  await import('@slotrelay/host');
  while (!existsSync(file)) await delay(50);
}
