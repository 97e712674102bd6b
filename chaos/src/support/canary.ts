import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** What the well-behaved clients saw. */
export interface CanaryFigures {
  /** SET+GET pairs whose GET returned what the SET wrote. */
  readonly verified: number;
  /** GETs that returned something else. */
  readonly wrong: number;
  /** Commands that failed (error reply, closed connection, timeout). */
  readonly errors: number;
  /** The first few failures, for the report. */
  readonly samples: string[];
  /** The slowest SET+GET pair, in ms. */
  readonly maxPairMs: number;
}

/**
 * Well-behaved clients (ioredis, one connection each, no cluster mode: `keys` are served by the node
 * behind `host:port`) writing and reading back their own keys until `stop()`.
 */
export class Canary {
  private running = true;
  private verified = 0;
  private wrong = 0;
  private errors = 0;
  private maxPairMs = 0;
  private readonly samples: string[] = [];
  private readonly loops: Promise<void>[];
  private readonly clients: Redis[];

  /** `commandTimeoutMs`: a command slower than this counts as an error. */
  constructor(host: string, port: number, keys: readonly string[], commandTimeoutMs = 5000) {
    // No retries and no offline queue: every failure is counted, none hidden by a retry.
    this.clients = keys.map(
      () =>
        new Redis({
          host,
          port,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
          lazyConnect: true,
          commandTimeout: commandTimeoutMs,
        }),
    );
    for (const c of this.clients) c.on('error', () => {});
    this.loops = keys.map((k, i) => this.loop(this.clients[i]!, k));
  }

  private async loop(c: Redis, key: string): Promise<void> {
    try {
      await c.connect();
    } catch (e) {
      this.fail(`connect: ${(e as Error).message}`);
      return;
    }
    for (let n = 0; this.running; n++) {
      const value = `${n}:${randomBytes(8 + (n % 64)).toString('hex')}`;
      try {
        const t0 = performance.now();
        await c.set(key, value);
        const got = await c.get(key);
        this.maxPairMs = Math.max(this.maxPairMs, Math.round(performance.now() - t0));
        if (got === value) this.verified++;
        else {
          this.wrong++;
          if (this.samples.length < 5)
            this.samples.push(`${key}: wrote ${value.slice(0, 40)}, read ${String(got).slice(0, 40)}`);
        }
      } catch (e) {
        this.fail(`${key}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private fail(what: string): void {
    this.errors++;
    if (this.samples.length < 5) this.samples.push(what);
  }

  /** The figures so far, without stopping. */
  figures(): CanaryFigures {
    return {
      verified: this.verified,
      wrong: this.wrong,
      errors: this.errors,
      samples: [...this.samples],
      maxPairMs: this.maxPairMs,
    };
  }

  /** Stop every loop, close the connections, return the figures. */
  async stop(): Promise<CanaryFigures> {
    this.running = false;
    await Promise.all(this.loops);
    for (const c of this.clients) c.disconnect();
    return this.figures();
  }
}
