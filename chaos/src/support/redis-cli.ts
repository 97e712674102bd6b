import { execFile } from 'node:child_process';

/** What a redis-cli run printed and how it ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run redis-cli with `args`, killed after `timeoutMs`; never rejects (the exit code says how it went). */
export function redisCli(args: string[], timeoutMs: number): Promise<CliRun> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile('redis-cli', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as NodeJS.ErrnoException).code === 'number'
          ? (err as unknown as { code: number }).code
          : null
        : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}
