import { spawn } from 'node:child_process';

/** Run redis-cli with `args`, feeding `input` on stdin (one command per line); resolves with stdout lines. */
export function redisCli(args: string[], input = '', timeoutMs = 120_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`redis-cli ${args.join(' ')} timed out`));
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`redis-cli exited ${code}: ${Buffer.concat(err).toString()}`));
      else
        resolve(
          Buffer.concat(out)
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
    });
    p.stdin.on('error', () => {}); // EPIPE when redis-cli exits before reading (no stdin needed)
    p.stdin.end(input);
  });
}

/** Every port number written as `:<port>` or `:<port>@` in a text (addresses in CLUSTER NODES, MOVED …). */
export function portsIn(text: string): number[] {
  return [...text.matchAll(/:(\d{2,5})(?=[@\s,]|$)/gm)].map((m) => Number(m[1]));
}

/** Split redis-cli -c output into reply lines and the ports its "-> Redirected to slot [n] located at host:port" lines name. */
export function splitRedirects(lines: string[]): { replies: string[]; redirectPorts: number[] } {
  const replies: string[] = [];
  const redirectPorts: number[] = [];
  for (const l of lines) {
    const m = /^-> Redirected to slot \[\d+\] located at .*:(\d+)$/.exec(l);
    if (m) redirectPorts.push(Number(m[1]));
    else replies.push(l);
  }
  return { replies, redirectPorts };
}

/** What a finished command-line tool left: exit code (null when killed by a signal), stdout and stderr. */
export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a Redis command-line tool (`redis-cli --cluster …`, `redis-benchmark …`) to completion, killed
 * after `timeoutMs`. Unlike `redisCli` it resolves on any exit code, because `redis-cli --cluster`
 * reports its findings on stdout and signals them only through the exit code.
 */
export function runTool(command: string, args: string[], timeoutMs = 60_000): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} timed out after ${timeoutMs} ms; stdout so far:\n${Buffer.concat(out).toString()}`,
        ),
      );
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: stripAnsi(Buffer.concat(out).toString()),
        stderr: stripAnsi(Buffer.concat(err).toString()),
      });
    });
  });
}

/** Text without ANSI colour codes (redis-cli --cluster colours its [OK] / [ERR] lines) and with `\r` progress updates as lines. */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '\n');
}

/**
 * The Redis ports among the whole-word numbers of a tool's output, i.e. leaked Redis addresses.
 * Words are split at blanks and at `: @ , [ ] =`; a slot range `a-b` is one word. Numbers in
 * `ignore` (slot numbers that happen to equal a port) and the value after `replication-offset`
 * are not counted.
 */
export function redisPortsIn(
  text: string,
  redisPorts: readonly number[],
  ignore: ReadonlySet<number> = new Set(),
): number[] {
  const words = text.split(/[\s:@,[\]=]+/);
  const out: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!/^\d+$/.test(w) || words[i - 1] === 'replication-offset') continue;
    const n = Number(w);
    if (redisPorts.includes(n) && !ignore.has(n)) out.push(n);
  }
  return out;
}

/**
 * The ports a tool's output names as node addresses: `ip:port` (CLUSTER NODES, --cluster check,
 * redis-benchmark), the number after an IP on its own line (CLUSTER SLOTS), the value after `port` /
 * `tls-port` (CLUSTER SHARDS).
 */
export function addressPortsIn(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/\b\d{1,3}(?:\.\d{1,3}){3}:(\d+)/g)) out.push(Number(m[1]));
  const words = text.split(/\s+/);
  for (let i = 1; i < words.length; i++) {
    const prev = words[i - 1]!;
    if ((/^\d{1,3}(?:\.\d{1,3}){3}$/.test(prev) || prev === 'port' || prev === 'tls-port') && /^\d+$/.test(words[i]!))
      out.push(Number(words[i]));
  }
  return out;
}
