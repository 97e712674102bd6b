import { execFile } from 'node:child_process';
import { redisCliPath } from './redis-binaries.js';

/** Default bound for one redis-cli run (a `--cluster reshard` of many slots can take a while). */
export const CLI_TIMEOUT_MS = 120_000;

/** Runs redis-cli with `args`; resolves with stdout, rejects with stderr/stdout on a non-zero exit or timeout. */
export function runCli(args: readonly string[], timeoutMs = CLI_TIMEOUT_MS): Promise<string> {
  const bin = redisCliPath();
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      [...args],
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
        env: { ...process.env, REDISCLI_HISTFILE: '/dev/null' },
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & {
          killed?: boolean;
          code?: number | string | null;
          signal?: string | null;
        };
        const how = e.killed
          ? `killed after ${timeoutMs} ms`
          : e.code !== undefined && e.code !== null
            ? `exit code ${e.code}`
            : `signal ${e.signal ?? '?'}`;
        const tail = (s: string): string => s.trim().split('\n').slice(-30).join('\n');
        reject(
          new Error(
            `redis-cli ${args.join(' ')} failed (${how})` +
              (stderr.trim() ? `\nstderr:\n${tail(stderr)}` : '') +
              (stdout.trim() ? `\nstdout:\n${tail(stdout)}` : ''),
          ),
        );
      },
    );
  });
}
