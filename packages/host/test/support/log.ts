import type { Logger } from '@slotrelay/core';

/** One captured log call. */
export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

/** A Logger that keeps every entry (children write to the same list). */
export function captureLogger(): Logger & { entries: LogEntry[]; at(level: LogEntry['level']): LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (bindings: object): Logger => {
    const put =
      (level: LogEntry['level']) =>
      (obj: object, msg = '') =>
        entries.push({ level, obj: { ...bindings, ...obj } as Record<string, unknown>, msg });
    return {
      debug: put('debug'),
      info: put('info'),
      warn: put('warn'),
      error: put('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return Object.assign(make({}), {
    entries,
    at: (level: LogEntry['level']) => entries.filter((e) => e.level === level),
  });
}

/** Poll `pred` until it holds (deadline 5 s); no fixed sleeps. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
