/**
 * Child process run inside the client namespace (`ip netns exec … node netns-client.js '<json>'`),
 * so every connection it makes crosses the switch like a client on another host. It speaks JSON
 * lines on stdout:
 *
 * 1. `{ type: 'inspect', replies }` — every address-bearing reply (CLUSTER NODES / SLOTS / SHARDS /
 *    REPLICAS, INFO replication, ROLE, a MOVED) from every proxy, in RESP2 and RESP3;
 * 2. `{ type: 'ready', groups }` — an ioredis Cluster workload runs: `workersPerGroup` workers per
 *    master, each writing keys of that master's slots; `groups` maps each master's proxy address
 *    to its keys;
 * 3. `{ type: 'tick', from, t, groups }` every `tickMs`: per group, ops ok / failed between `from`
 *    and `t` (the previous tick; timers run late on a loaded machine, so the window is said) and, per
 *    worker, when its current run of successes began (ms since epoch; 0 after a failure);
 * 4. on a `probe <addr>` line on stdin: `{ type: 'probe', addr, t }` once a fresh connection to
 *    `addr` gets PONG (`t` null after 60 s);
 * 5. on a `stop` line on stdin: `{ type: 'done', inspect, errors }` (a second inspection, after
 *    the fault) and exit.
 */
import net from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';

/** What the parent passes as argv[2]. */
export interface ClientOptions {
  proxies: string[];
  workersPerGroup: number;
  keysPerGroup: number;
  commandTimeoutMs: number;
  tickMs: number;
  /** Pause between two ops of one worker, so the workload leaves the shared cores some room. */
  pauseMs: number;
  readyTimeoutMs: number;
}

/** One reply of the inspection, made JSON-safe (maps as flat key–value lists, as RESP2 has them; buffers as strings). */
export interface InspectedReply {
  proxy: string;
  protocol: 2 | 3;
  command: string;
  reply?: unknown;
  error?: string;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as ClientOptions;
const emit = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
process.stdout.on('error', () => process.exit(0)); // EPIPE: the runner is gone

let askStop = (): void => {};
const stopAsked = new Promise<void>((resolve) => (askStop = resolve));
const commands = createInterface({ input: process.stdin });
commands.on('line', (l) => {
  const [verb, arg] = l.trim().split(' ');
  if (verb === 'stop') askStop();
  if (verb === 'probe' && arg) void probe(arg);
});
// stdin closed: the runner is gone (even by SIGKILL), nobody reads the report.
commands.on('close', () => process.exit(0));

function hostPort(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(':');
  return { host: addr.slice(0, at), port: Number(addr.slice(at + 1)) };
}

function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString();
  if (v instanceof Map) return [...v].flatMap(([k, x]) => [plain(k), plain(x)]);
  if (v instanceof Set || Array.isArray(v)) return [...v].map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** True once `addr` answers PING with PONG (a proxy answers only after reaching its Redis node). */
function pings(addr: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(hostPort(addr));
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    // A proxy whose Redis node is not reachable (yet) closes without a reply, as a dead node would.
    s.once('close', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (b) => done(b.toString().startsWith('+PONG')));
  });
}

/** Fresh connections to `addr` until one gets PONG: when the proxy host serves again, apart from the client's old connections. */
async function probe(addr: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let tries = 1;
  while (!(await pings(addr, 500))) {
    if (Date.now() > deadline) return emit({ type: 'probe', addr, t: null, tries });
    tries++;
    await delay(50);
  }
  emit({ type: 'probe', addr, t: Date.now(), tries });
}

async function waitProxies(): Promise<void> {
  const deadline = Date.now() + opts.readyTimeoutMs;
  for (const addr of opts.proxies) {
    while (!(await pings(addr))) {
      if (Date.now() > deadline) throw new Error(`proxy ${addr} does not answer PING after ${opts.readyTimeoutMs} ms`);
      await delay(100);
    }
  }
}

/** Slot ranges and their master's address, from a CLUSTER SLOTS reply. */
function masterRanges(slots: unknown): { from: number; to: number; master: string }[] {
  return (slots as [number, number, [string, number]][]).map(([from, to, [host, port]]) => ({
    from,
    to,
    master: `${host}:${port}`,
  }));
}

function ownerOf(ranges: ReturnType<typeof masterRanges>, slot: number): string | undefined {
  return ranges.find((r) => slot >= r.from && slot <= r.to)?.master;
}

/** `count` key names (prefix + n) with their slots, asked of the cluster itself (CLUSTER KEYSLOT). */
async function keysWithSlots(conn: Redis, prefix: string, count: number): Promise<{ key: string; slot: number }[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const slots = await Promise.all(keys.map((k) => conn.call('CLUSTER', 'KEYSLOT', k) as Promise<number>));
  return keys.map((key, i) => ({ key, slot: Number(slots[i]) }));
}

async function inspect(): Promise<InspectedReply[]> {
  const out: InspectedReply[] = [];
  for (const proxy of opts.proxies) {
    for (const protocol of [2, 3] as const) {
      const conn = new Redis({
        ...hostPort(proxy),
        protocol,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        commandTimeout: 5000,
        retryStrategy: () => null,
      });
      try {
        await conn.connect();
        const ask = async (command: string, ...args: string[]) => {
          try {
            out.push({
              proxy,
              protocol,
              command: [command, ...args].join(' '),
              reply: plain(await conn.call(command, ...args)),
            });
          } catch (e) {
            out.push({
              proxy,
              protocol,
              command: [command, ...args].join(' '),
              error: e instanceof Error ? e.message : String(e),
            });
          }
        };
        await ask('CLUSTER', 'NODES');
        await ask('CLUSTER', 'SLOTS');
        await ask('CLUSTER', 'SHARDS');
        await ask('INFO', 'replication');
        await ask('ROLE');
        const nodes = String(await conn.call('CLUSTER', 'NODES'));
        const master = nodes
          .split('\n')
          .find((l) => l.split(' ')[2]?.includes('master'))
          ?.split(' ')[0];
        if (master) await ask('CLUSTER', 'REPLICAS', master);
        // A key this proxy's node does not own as master gets a MOVED naming the owner.
        const ranges = masterRanges(await conn.call('CLUSTER', 'SLOTS'));
        const probe = (await keysWithSlots(conn, 'chaos:partition:probe:', 16)).find(
          (k) => ownerOf(ranges, k.slot) !== proxy,
        );
        if (probe) await ask('GET', probe.key);
      } finally {
        conn.disconnect();
      }
    }
  }
  return out;
}

interface Group {
  keys: string[];
  ok: number;
  err: number;
  okSince: number[];
}

async function main(): Promise<void> {
  const t0 = Date.now();
  await waitProxies();
  const t1 = Date.now();
  const replies = await inspect();
  emit({ type: 'inspect', replies, waitedMs: t1 - t0, tookMs: Date.now() - t1 });

  // Group keys by the proxy of the master that owns their slot, as the client sees it.
  const first = new Redis({
    ...hostPort(opts.proxies[0]!),
    protocol: 2,
    maxRetriesPerRequest: 0,
    commandTimeout: 5000,
  });
  const ranges = masterRanges(await first.call('CLUSTER', 'SLOTS'));
  const groups = new Map<string, Group>();
  for (const r of ranges)
    if (!groups.has(r.master))
      groups.set(r.master, { keys: [], ok: 0, err: 0, okSince: Array(opts.workersPerGroup).fill(0) });
  const candidates = await keysWithSlots(first, 'chaos:partition:', opts.keysPerGroup * groups.size * 4);
  first.disconnect();
  for (const { key, slot } of candidates) {
    const g = groups.get(ownerOf(ranges, slot)!)!;
    if (g.keys.length < opts.keysPerGroup) g.keys.push(key);
  }

  const cluster = new Cluster(opts.proxies.map(hostPort), {
    redisOptions: { commandTimeout: opts.commandTimeoutMs, connectTimeout: 2000 },
    slotsRefreshTimeout: 2000,
  });
  await new Promise<void>((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('error', reject);
  });
  cluster.on('error', () => {}); // counted per op; a stray connection error must not end the workload

  const errors = new Map<string, number>();
  let running = true;
  const worker = async (g: Group, w: number) => {
    for (let n = w; running; n++) {
      const key = g.keys[n % g.keys.length]!;
      try {
        await cluster.set(key, String(n));
        g.ok++;
        g.okSince[w] ||= Date.now();
      } catch (e) {
        g.err++;
        g.okSince[w] = 0;
        const m = (e instanceof Error ? e.message : String(e)).slice(0, 120);
        errors.set(m, (errors.get(m) ?? 0) + 1);
      }
      await delay(opts.pauseMs);
    }
  };
  const workers = [...groups.values()].flatMap((g) =>
    Array.from({ length: opts.workersPerGroup }, (_, w) => worker(g, w)),
  );
  emit({ type: 'ready', groups: Object.fromEntries([...groups].map(([a, g]) => [a, g.keys])) });

  let from = Date.now();
  const report = () => {
    const t = Date.now();
    emit({
      type: 'tick',
      from,
      t,
      groups: Object.fromEntries([...groups].map(([a, g]) => [a, { ok: g.ok, err: g.err, okSince: [...g.okSince] }])),
    });
    for (const g of groups.values()) g.ok = g.err = 0;
    from = t;
  };
  const tick = setInterval(report, opts.tickMs);

  await stopAsked;
  running = false;
  await Promise.all(workers);
  clearInterval(tick);
  report();
  cluster.disconnect();
  emit({ type: 'done', inspect: await inspect(), errors: Object.fromEntries(errors) });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  },
);
