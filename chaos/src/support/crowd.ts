import net from 'node:net';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Resident set size of process `pid` in MB (Linux /proc), or -1. */
export function rssMB(pid: number): number {
  try {
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Math.round(kb / 102.4) / 10;
  } catch {
    return -1;
  }
}

/**
 * Whether a child can be started with `n` open files (soft and hard), i.e. above this process's hard
 * limit only with privileges. Node raises its own soft limit to the hard limit at start, so a limit
 * is only worth asking for when it is above the hard one.
 */
export function canRaiseNofile(n: number): boolean {
  return spawnSync('prlimit', [`--nofile=${n}:${n}`, '--', 'true'], { stdio: 'ignore' }).status === 0;
}

/** A crowd of raw TCP clients, each served once (PING, SET, GET pipelined) and then idle. */
export class Crowd {
  readonly sockets: net.Socket[] = [];
  served = 0;
  readonly failures = new Map<string, number>();

  /**
   * Open `n` connections to `address`, `parallel` at a time; each sends PING, SET `key` and GET
   * `key` in one write and must get exactly `+PONG`, `+OK` and the value back within `timeoutMs`.
   * Sockets stay open (idle) until {@link Crowd.close}. Stops opening at `deadline` (epoch ms).
   */
  async open(
    address: string,
    n: number,
    keyOf: (i: number) => string,
    o: { parallel: number; timeoutMs: number; deadline: number },
  ): Promise<void> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(at + 1));
    let next = 0;
    const one = (i: number) =>
      new Promise<void>((resolve) => {
        const key = keyOf(i);
        const value = `v${i}`;
        const expected = `+PONG\r\n+OK\r\n$${value.length}\r\n${value}\r\n`;
        let got = '';
        const s = net.connect({ host, port });
        this.sockets.push(s);
        const fail = (why: string) => {
          clearTimeout(timer);
          this.failures.set(why, (this.failures.get(why) ?? 0) + 1);
          resolve();
        };
        const timer = setTimeout(() => fail(`no full answer in ${o.timeoutMs} ms`), o.timeoutMs);
        s.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
        s.on('connect', () =>
          s.write(
            `*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`,
          ),
        );
        const onData = (b: Buffer) => {
          got += b.toString('latin1');
          if (got.length < expected.length && expected.startsWith(got)) return;
          s.off('data', onData);
          if (got === expected) {
            clearTimeout(timer);
            this.served++;
            resolve();
          } else {
            fail(`unexpected reply ${JSON.stringify(got.slice(0, 80))}`);
          }
        };
        s.on('data', onData);
      });
    await Promise.all(
      Array.from({ length: o.parallel }, async () => {
        while (next < n && Date.now() < o.deadline) await one(next++);
      }),
    );
  }

  /** Close every socket and wait (bounded) until they are closed. */
  async close(timeoutMs = 10_000): Promise<void> {
    const closed = this.sockets.map((s) =>
      s.closed ? Promise.resolve() : new Promise<void>((r) => s.once('close', () => r())),
    );
    for (const s of this.sockets) s.destroy();
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, timeoutMs))]);
  }
}
