/**
 * Child-process entry of `MeasuredProxy`: runs one `Fleet` from @slotrelay/host (what the
 * `slotrelay` CLI runs) and answers memory requests over IPC, so a scenario can read the proxy's own
 * `process.memoryUsage()` (arrayBuffers is invisible from outside). The config comes as argv[2] (JSON).
 * An uncaught exception ends the process as it ends the CLI: a crash stays a crash.
 */
import { Fleet, createLogger, validateConfig } from '@slotrelay/host';

/** A request from the parent. `gc` first collects garbage (the child runs with --expose-gc). */
export interface ChildRequest {
  readonly id: number;
  readonly type: 'memory';
  readonly gc?: boolean;
}

/** The child's answers: `ready` once listening, then one `memory` per request. */
export type ChildMessage = { type: 'ready' } | { type: 'memory'; id: number; usage: NodeJS.MemoryUsage };

const config = validateConfig(JSON.parse(process.argv[2]!));
const log = createLogger(config.log?.level ?? 'warn', 2);
const fleet = await Fleet.start(config, { log });
const send = (m: ChildMessage) => process.send!(m);

process.on('message', (m: ChildRequest) => {
  if (m.type !== 'memory') return;
  if (m.gc) (globalThis as { gc?: () => void }).gc?.();
  send({ type: 'memory', id: m.id, usage: process.memoryUsage() });
});
// The parent going away (or SIGTERM) ends the proxy, so a crashed scenario leaves nothing behind.
const stop = () => void fleet.stop(500).finally(() => process.exit(0));
process.on('disconnect', stop);
process.on('SIGTERM', stop);
send({ type: 'ready' });
