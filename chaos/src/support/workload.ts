import { Cluster } from 'ioredis';
import { sleep } from './redis-admin.js';

/** Client-visible errors: how many, and the first few distinct messages with their counts. */
export class ErrorTally {
  count = 0;
  private readonly byMessage = new Map<string, number>();

  add(e: unknown): void {
    this.count++;
    // Digits vary (ports, slots, counts); without them the distinct messages stay few.
    const m = (e instanceof Error ? e.message : String(e)).replace(/\d+/g, 'N').slice(0, 160);
    if (this.byMessage.has(m) || this.byMessage.size < 50) this.byMessage.set(m, (this.byMessage.get(m) ?? 0) + 1);
  }

  /** The `n` most frequent messages, `"<count>× <message>"`, joined with ' ; ' (a '|' would split a markdown table cell). */
  top(n = 4): string {
    return [...this.byMessage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([m, c]) => `${c}× ${m}`)
      .join(' ; ');
  }
}

/** What the writers did: acknowledged SETs (key = value), acknowledged INCRs per counter, errors. */
export interface WriteTally {
  ops: number;
  ackedKeys: string[];
  ackedIncrs: Map<string, number>;
  errors: ErrorTally;
  /** Requests still unanswered when the writers were stopped (a hang), bounded by `settleMs`. */
  unsettled: number;
  /** The longest a request took to settle (success or error), in ms. */
  maxMs: number;
}

export interface WritersOptions {
  /** Concurrent workers, each one request at a time. */
  workers: number;
  /** Key prefix of this run (unique keys `<prefix>:k:<worker>:<n>`, counters `<prefix>:c:<i>`). */
  prefix: string;
  /** INCR counters shared by the workers (spread over the slots by their names). */
  counters?: number;
  /** Every 4th request is an INCR, the others SETs. Hard cap of requests per worker. */
  maxOpsPerWorker?: number;
  /** Pause after an error before the next request, as an application would not spin on a failing call. */
  errorPauseMs?: number;
}

/**
 * Writers on one ioredis Cluster client, as an application runs them: `workers` loops, each with
 * one request in flight, SETs of unique keys (value = key) and INCRs of shared counters, until
 * `stop()`. Every acknowledged write is recorded so it can be read back after the fault.
 */
export class Writers {
  readonly tally: WriteTally = {
    ops: 0,
    ackedKeys: [],
    ackedIncrs: new Map(),
    errors: new ErrorTally(),
    unsettled: 0,
    maxMs: 0,
  };
  private stopping = false;
  private inflight = 0;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: Cluster,
    private readonly o: WritersOptions,
  ) {
    this.done = Promise.all(Array.from({ length: o.workers }, (_, w) => this.worker(w))).then(() => {});
  }

  private async worker(w: number): Promise<void> {
    const counters = this.o.counters ?? 64;
    const max = this.o.maxOpsPerWorker ?? 1_000_000;
    for (let n = 0; !this.stopping && n < max; n++) {
      const incr = n % 4 === 3;
      const key = incr ? `${this.o.prefix}:c:${(w * 31 + n) % counters}` : `${this.o.prefix}:k:${w}:${n}`;
      this.inflight++;
      this.tally.ops++;
      const t0 = performance.now();
      try {
        if (incr) {
          await this.client.incr(key);
          this.tally.ackedIncrs.set(key, (this.tally.ackedIncrs.get(key) ?? 0) + 1);
        } else {
          await this.client.set(key, key);
          this.tally.ackedKeys.push(key);
        }
      } catch (e) {
        this.tally.errors.add(e);
        if (!this.stopping) await sleep(this.o.errorPauseMs ?? 10);
      } finally {
        this.inflight--;
        this.tally.maxMs = Math.max(this.tally.maxMs, performance.now() - t0);
      }
    }
  }

  /** Stop issuing requests and wait (at most `settleMs`) for those in flight; the rest count as unsettled. */
  async stop(settleMs = 10_000): Promise<WriteTally> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise((r) => (timer = setTimeout(r, settleMs)))]);
    clearTimeout(timer);
    this.tally.unsettled = this.inflight;
    return this.tally;
  }
}

/** What a read-back found missing: SET keys whose value is gone or wrong, INCRs acknowledged but not counted. */
export interface Loss {
  lostKeys: number;
  lostIncrements: number;
  /** lostKeys + lostIncrements. */
  lost: number;
  sample: string[];
}

/**
 * Read back every acknowledged write through a fresh ioredis Cluster client on `seeds` (the cluster
 * itself: what is stored does not depend on the path the writes took). A counter lost
 * `acked − final` increments when positive (an INCR applied but not acknowledged only raises it).
 */
export async function readBack(seeds: string[], tally: WriteTally): Promise<Loss> {
  // No auto-pipelining: a MOVED inside an auto-pipeline (a node still gossiping a reshard) fails the
  // whole batch in ioredis ("All keys in the pipeline should belong to the same slots allocation group").
  const client = clusterClient(seeds);
  const get = async (k: string): Promise<string | null> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.get(k);
      } catch (e) {
        if (attempt >= 5) throw new Error(`read-back of ${k} failed 5 times: ${(e as Error).message}`, { cause: e });
        await sleep(200);
      }
    }
  };
  const sample: string[] = [];
  let lostKeys = 0;
  let lostIncrements = 0;
  try {
    for (let i = 0; i < tally.ackedKeys.length; i += 2000) {
      const keys = tally.ackedKeys.slice(i, i + 2000);
      const got = await Promise.all(keys.map(get));
      got.forEach((v, j) => {
        if (v !== keys[j]) {
          lostKeys++;
          if (sample.length < 5) sample.push(`${keys[j]}=${v}`);
        }
      });
    }
    for (const [k, acked] of tally.ackedIncrs) {
      const final = Number((await get(k)) ?? 0);
      if (acked > final) {
        lostIncrements += acked - final;
        if (sample.length < 5) sample.push(`${k}: ${acked} acked, ${final} stored`);
      }
    }
  } finally {
    client.disconnect();
  }
  return { lostKeys, lostIncrements, lost: lostKeys + lostIncrements, sample };
}

/**
 * An ioredis Cluster client on `addresses` with ioredis's defaults (as an operator would configure
 * it), errors of the client object itself swallowed: the failures counted are the requests'.
 */
export function clusterClient(addresses: string[], extra: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const nodes = addresses.map((a) => {
    const at = a.lastIndexOf(':');
    return { host: a.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(a.slice(at + 1)) };
  });
  const c = new Cluster(nodes, extra);
  c.on('error', () => {});
  return c;
}

/**
 * One key written again and again (one request at a time, `intervalMs` apart) to see when its
 * slot accepts writes: the times of successes are kept.
 */
export class Probe {
  private readonly successes: number[] = [];
  private stopping = false;
  private readonly done: Promise<void>;
  readonly errors = new ErrorTally();

  constructor(
    private readonly client: Cluster,
    private readonly key: string,
    private readonly intervalMs = 50,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    for (let n = 0; !this.stopping; n++) {
      try {
        await this.client.set(this.key, String(n));
        this.successes.push(performance.now());
        if (this.successes.length > 10_000) this.successes.splice(0, 5_000);
      } catch (e) {
        this.errors.add(e);
      }
      await sleep(this.intervalMs);
    }
  }

  /** Milliseconds from `t` (a `performance.now()` time) to the first success completed after it, or null. */
  firstSuccessAfter(t: number): number | null {
    const s = this.successes.find((x) => x > t);
    return s === undefined ? null : s - t;
  }

  /** Waits (bounded) until a success after `t`; its delay in ms or null. */
  async waitSuccessAfter(t: number, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.firstSuccessAfter(t) === null && Date.now() < deadline) await sleep(20);
    return this.firstSuccessAfter(t);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.race([this.done, sleep(10_000)]);
  }
}
