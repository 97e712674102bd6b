import { setTimeout as delay } from 'node:timers/promises';

/** Result of one poll attempt: `true` when done, otherwise a description of what is still missing. */
export type PollResult = true | string;

/**
 * Calls `attempt` every `intervalMs` until it returns `true` or the deadline passes.
 * On timeout throws an Error naming `what`, the last reason, and `detail()` (e.g. log tails).
 */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<PollResult>,
  opts: { intervalMs?: number; detail?: () => Promise<string> | string } = {},
): Promise<void> {
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let reason: string;
  for (;;) {
    try {
      const r = await attempt();
      if (r === true) return;
      reason = r;
    } catch (err) {
      if (err instanceof FatalPollError) throw err;
      reason = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) break;
    await delay(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
  const detail = opts.detail ? await opts.detail() : '';
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}: ${reason}${detail ? `\n${detail}` : ''}`);
}

/** Thrown from a poll attempt to stop polling at once (e.g. the process being waited on died). */
export class FatalPollError extends Error {
  override readonly name = 'FatalPollError';
}
