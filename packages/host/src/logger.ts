import { pino } from 'pino';
import type { Logger } from '@slotrelay/core';

/** Log levels the config accepts. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Structured JSON logs (pino) on stdout, one object per line. */
export function createLogger(level: LogLevel = 'info', destination: number = 1): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: destination, sync: true }),
  ) as unknown as Logger;
}
