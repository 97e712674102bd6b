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
      else resolve(Buffer.concat(out).toString().split('\n').filter((l) => l !== ''));
    });
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
