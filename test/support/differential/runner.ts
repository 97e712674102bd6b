/**
 * The differential suite's runner (issue 16, item 3). A `Workload` scripts raw clients
 * (`run.client(name, redisPort)` → a ScriptClient: `run(reqs, split)`, `send`, `expect(n)`,
 * `expectClose`), and `expectIdentical(workload, targets.all, seed)` runs it against Redis itself
 * (the reference), a fleet with `multiplex: false` and one with `multiplex: true`, each after
 * `reset` brought Redis to the same start state, and asserts that every client's reply stream —
 * frames, their order, frames nobody asked for, a half-sent frame, a close by the server — is
 * Redis's, after the normalization listed in normalize.ts. A client's stream holds only what its
 * script waited for, so a script must wait for every asynchronous frame it causes (a message, an
 * invalidation) before the run ends; `run.observe` and `run.waitFor` record other facts compared
 * the same way. Failures name the seed: `DIFF_SEED=<n>` replays the same cuts.
 * `DIFF_DUMP=<regexp of client names>` prints those clients' normalized streams.
 */
import { expect } from 'vitest';
import { type TestFleet, startFleet } from '../fleet.js';
import { RawClient } from '../raw-client.js';
import { type NormalizedRecord, type PortMap, compareRecords, normalizeRecord } from './normalize.js';
import { hash32, mulberry32 } from './prng.js';
import { type ClientRecord, ScriptClient } from './script-client.js';

/** Where a workload's clients connect: Redis itself, or a fleet of proxies. */
export interface Target {
  name: string;
  /** The port a client of Redis node `redisPort` connects to. */
  portFor(redisPort: number): number;
  /** Listening port → the Redis port it stands for (for normalizing addresses in replies). */
  ports: PortMap;
}

export interface ClusterNodeInfo {
  host: string;
  port: number;
  id: string;
}

/** The three targets: Redis directly, a fleet with `multiplex: false`, a fleet with `multiplex: true`. */
export interface Targets {
  redis: Target;
  fleets: Target[];
  all: Target[];
  stop(): Promise<void>;
}

function redisTarget(nodes: ClusterNodeInfo[]): Target {
  return {
    name: 'redis',
    portFor: (p) => p,
    ports: new Map(nodes.map((n) => [n.port, n.port])),
  };
}

/**
 * Start the two fleets (dynamic mappings, one proxy per node, `multiplex` set on every connection)
 * and check which proxy fronts which node (CLUSTER MYID through each proxy).
 */
export async function startTargets(seeds: string[], nodes: ClusterNodeInfo[]): Promise<Targets> {
  const fleets: TestFleet[] = [];
  const out: Target[] = [];
  try {
    for (const multiplex of [false, true]) {
      const fleet = await startFleet({
        seeds,
        count: nodes.length,
        edit: (c) => c.connections.forEach((conn) => (conn.multiplex = multiplex)),
      });
      fleets.push(fleet);
      if (!fleet.config.connections.every((c) => c.multiplex === multiplex))
        throw new Error(`the fleet's config lost multiplex: ${multiplex}`);
      const byProxy = new Map<number, number>();
      for (const p of fleet.ports) {
        const c = await RawClient.connect(p);
        try {
          const id = String(await c.call('CLUSTER', 'MYID'));
          const node = nodes.find((n) => n.id === id);
          if (!node) throw new Error(`proxy ${p} answers CLUSTER MYID with an unknown node ${id}`);
          byProxy.set(p, node.port);
        } finally {
          c.close();
        }
      }
      const proxyOf = new Map([...byProxy].map(([proxy, node]) => [node, proxy]));
      out.push({
        name: multiplex ? 'slotrelay(multiplex)' : 'slotrelay',
        portFor: (p) => {
          const proxy = proxyOf.get(p);
          if (proxy === undefined) throw new Error(`no proxy fronts ${p}`);
          return proxy;
        },
        ports: byProxy,
      });
    }
  } catch (e) {
    await Promise.all(fleets.map((f) => f.stop()));
    throw e;
  }
  const redis = redisTarget(nodes);
  return {
    redis,
    fleets: out,
    all: [redis, ...out],
    stop: async () => void (await Promise.all(fleets.map((f) => f.stop()))),
  };
}

/** What a workload sees while it runs against one target. */
export class WorkloadRun {
  private readonly clients: ScriptClient[] = [];
  private readonly admins: RawClient[] = [];
  /** What the workload observed besides replies (compared like a client's replies). */
  private readonly observations: ClientRecord = {
    name: '(observations)',
    compare: true,
    frames: [],
    extra: [],
    partialBytes: 0,
    closedByServer: false,
  };

  constructor(
    readonly target: Target,
    readonly seed: number,
  ) {}

  /** A client named `name` (unique in the workload) connected to where Redis node `redisPort` is served. */
  async client(name: string, redisPort: number, opts: { compare?: boolean } = {}): Promise<ScriptClient> {
    if (this.clients.some((c) => c.name === name)) throw new Error(`two clients named ${name}`);
    const c = await ScriptClient.connect(
      name,
      this.target.portFor(redisPort),
      mulberry32(this.seed ^ hash32(name)),
      opts.compare ?? true,
    );
    this.clients.push(c);
    return c;
  }

  /** A direct connection to a Redis node, for setup and checks; its replies are not compared. */
  async admin(redisPort: number): Promise<RawClient> {
    const c = await RawClient.connect(redisPort);
    this.admins.push(c);
    return c;
  }

  /** A PRNG of this run (the same sequence for every target). */
  rng(stream: string): () => number {
    return mulberry32(this.seed ^ hash32(stream));
  }

  /** Record a fact the workload checked (e.g. "the blocked client is gone from CLIENT LIST"): compared across targets. */
  observe(fact: string): void {
    this.observations.frames.push({ tree: { type: '+', line: fact } });
  }

  /**
   * Wait (polling a direct connection, bounded by `timeoutMs`) until `check` holds; records the
   * outcome as an observation, so a target on which it never holds differs from Redis.
   */
  async waitFor(what: string, redisPort: number, check: (admin: RawClient) => Promise<boolean>, timeoutMs = 5_000) {
    const admin = await this.admin(redisPort);
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 10_000; i++) {
      if (await check(admin)) {
        this.observe(`${what}: yes`);
        return true;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.observe(`${what}: not within ${timeoutMs} ms`);
    return false;
  }

  finish(): ClientRecord[] {
    const records = [...this.clients.map((c) => c.finish()), this.observations];
    this.admins.forEach((a) => a.close());
    return records;
  }
}

export interface Workload {
  name: string;
  /** Bring Redis to the workload's start state (DEL its keys …), before each target. */
  reset(run: WorkloadRun): Promise<void>;
  run(run: WorkloadRun): Promise<void>;
  /** After the last target (DEL its keys …). */
  cleanup?(run: WorkloadRun): Promise<void>;
}

/** DEL `keys` on the Redis node `port` owns them on (never FLUSH: the cluster is shared). */
export async function delKeys(run: WorkloadRun, port: number, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  const a = await run.admin(port);
  // One DEL per key: keys of different slots may not share a DEL in cluster mode.
  for (const k of keys) await a.call('DEL', k);
}

export interface DifferentialResult {
  seed: number;
  records: Map<string, NormalizedRecord[]>;
  differences: string[];
}

/**
 * Run `workload` against every target in turn (Redis first: the reference), each from the same
 * start state, and compare every client's normalized reply stream with Redis's. A run that fails
 * on a target other than Redis is recorded as a difference; one that fails on Redis is a broken
 * workload and throws.
 */
export async function runDifferential(
  workload: Workload,
  targets: Target[],
  seed: number,
): Promise<DifferentialResult> {
  const records = new Map<string, NormalizedRecord[]>();
  const differences: string[] = [];
  let last: WorkloadRun | undefined;
  for (const target of targets) {
    const run = new WorkloadRun(target, seed);
    last = run;
    let error: string | undefined;
    try {
      await workload.reset(run);
      await workload.run(run);
    } catch (e) {
      error = `${target.name}: the workload failed: ${(e as Error).stack ?? String(e)}`;
    }
    const raw = run.finish();
    const normalized = raw.map((r) => normalizeRecord(r, target.ports));
    records.set(target.name, normalized);
    if (error) {
      if (target === targets[0]) throw new Error(`${workload.name} (seed ${seed}) against the reference: ${error}`);
      differences.push(error);
    }
  }
  const reference = records.get(targets[0]!.name)!;
  for (const t of targets.slice(1)) differences.push(...compareRecords(reference, records.get(t.name)!, t.name));
  if (workload.cleanup && last) {
    const run = new WorkloadRun(targets[0]!, seed);
    try {
      await workload.cleanup(run);
    } finally {
      run.finish();
    }
  }
  return { seed, records, differences };
}

/** Run `workload` on every target and assert that every client's replies are Redis's. */
export async function expectIdentical(
  workload: Workload,
  targets: Target[],
  seed: number,
): Promise<DifferentialResult> {
  const r = await runDifferential(workload, targets, seed);
  // DIFF_DUMP=<client name regexp> prints those clients' normalized streams (to read what is compared).
  const dump = process.env.DIFF_DUMP;
  if (dump) {
    for (const [target, recs] of r.records) {
      for (const rec of recs.filter((x) => new RegExp(dump).test(x.name))) {
        const lines = rec.frames.map((f, i) => `  #${i} ${f.text}`).join('\n');
        console.log(
          `${workload.name} / ${target} / ${rec.name} (closed by server: ${rec.closedByServer}, extra: [${rec.extra.join(', ')}])\n${lines}`,
        );
      }
    }
  }
  expect(r.differences, report(workload.name, r)).toEqual([]);
  return r;
}

/** The assertion message of a failed comparison: the workload, the seed to replay it, every difference. */
export function report(workload: string, r: DifferentialResult): string {
  return `${workload}: replies differ (replay with DIFF_SEED=${r.seed}):\n${r.differences.join('\n')}`;
}
