#!/usr/bin/env node
/**
 * How much of a typical client's traffic stays on shared upstream connections (issue 16): a local
 * cluster, slotrelay in front of it (real CLI, six listeners, metrics on, `--log-level debug`), and
 * for each client library in turn a short, typical workload through the fleet: SET/GET/MGET with
 * hash tags and a pipeline (plus a MULTI in the `+ MULTI` variants). From the metrics delta of each
 * run: sessions started shared, sessions pinned, the share that stayed shared (1 − pinned/shared);
 * sampled during the run: the highest `slotrelay_upstream_shared_connections` (summed over the
 * listeners) and the highest `connected_clients` of each Redis node (INFO clients). The commands
 * that made sessions pin: slotrelay's debug log names each pinned session's own upstream port, and
 * MONITOR on every node during the run shows what that port sent (see pinningRequest).
 *
 * `node bench/dist/sharing-share.js [--python /work/peers/venv/bin/python] [--only ioredis,node-redis,…]`
 * (`SHARE_DEBUG=1`: every pinned connection's requests on stderr).
 * Markdown on stdout, progress on stderr. Every run lasts seconds; every process is stopped by PID.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pinsByName } from '@slotrelay/core/internal';
import { fleetConfig, validateConfig } from '@slotrelay/host';
import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { Cluster as IoCluster, type ClusterOptions } from 'ioredis';
import { createCluster } from 'redis';
import { type Child, freePortRange, sleep, startChild, waitListening } from './child.js';
import { HOST, REPO } from './contenders.js';
import { query } from './discovery-check.js';
import { connectionBaseline, pollConnections } from './redis-connections.js';

const USAGE = `usage: node bench/dist/sharing-share.js [--python PATH] [--only NAME,NAME…] [--multiplex on|off] [--log FILE]
  --python   python with redis-py installed (default /work/peers/venv/bin/python; skipped if absent)
  --only     run only the workloads whose name starts with one of these (ioredis, node-redis, redis-py, redis-benchmark, redis-cli)
  --log FILE   write slotrelay's debug log (JSON lines) to FILE
  --multiplex  write multiplex: true|false into every connection (default: left out, the product default)
`;

const log = (s: string) => process.stderr.write(`[sharing-share] ${s}\n`);

interface Fleet {
  child: Child;
  ports: number[];
  metricsPort: number;
  /** slotrelay's stdout lines (JSON logs), as they come. */
  lines: string[];
  stop(): Promise<void>;
}

/** slotrelay's CLI on a six-listener config with metrics and debug logs (contenders.ts's startSlotrelay, but logging). */
async function startFleet(seeds: readonly string[], count: number, multiplex: boolean | undefined): Promise<Fleet> {
  const base = await freePortRange(count);
  const metricsPort = await freePortRange(1);
  const fleet = fleetConfig(seeds.slice(0, 2), base, count, HOST);
  const config = validateConfig({
    ...fleet,
    connections: fleet.connections.map((c) => ({ ...c, ...(multiplex === undefined ? {} : { multiplex }) })),
    metrics: { address: HOST, port: metricsPort },
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-share-'));
  const file = path.join(dir, 'slotrelay.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const lines: string[] = [];
  let partial = '';
  const cli = path.join(REPO, 'packages', 'host', 'bin', 'slotrelay.js');
  const child = startChild(process.execPath, [cli, '--config', file, '--log-level', 'debug'], {
    cwd: REPO,
    onStdout: (s) => {
      const parts = (partial + s).split('\n');
      partial = parts.pop()!;
      // Bounded: a long run keeps the last 200,000 lines.
      for (const l of parts) if (lines.push(l) > 200_000) lines.splice(0, 100_000);
    },
  });
  const ports = Array.from({ length: count }, (_, i) => base + i);
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await waitListening(child, HOST, [...ports, metricsPort]);
  } catch (e) {
    await child.stop(2000);
    cleanup();
    throw e;
  }
  return {
    child,
    ports,
    metricsPort,
    lines,
    stop: async () => {
      await child.stop();
      cleanup();
    },
  };
}

interface Sample {
  shared: number;
  pinned: number;
  sharedConnections: number;
}

/** The three sharing metrics, summed over the listeners. */
async function scrape(port: number): Promise<Sample> {
  const text = await fetch(`http://${HOST}:${port}/metrics`, { signal: AbortSignal.timeout(3000) }).then((r) =>
    r.text(),
  );
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .reduce((acc, l) => acc + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return {
    shared: sum('slotrelay_sessions_shared_total'),
    pinned: sum('slotrelay_sessions_pinned_total'),
    sharedConnections: sum('slotrelay_upstream_shared_connections'),
  };
}

interface Workload {
  name: string;
  /** What it does, for the table. */
  does: string;
  /** Seed the client with the listener of a replica (default: the first listener, a master's). */
  replicaSeed?: boolean;
  run(port: number): Promise<void>;
}

/** Ten keys of one slot (hash tag), written, read, MGET, pipelined; `multi` adds a MULTI/EXEC. */
const TAG = '{share}';
const keys = Array.from({ length: 10 }, (_, i) => `${TAG}:k${i}`);

function ioredisWorkload(name: string, opts: ClusterOptions, multi: boolean, replicaSeed = false): Workload {
  return {
    name,
    does: `SET/GET ×10, MGET, pipeline of 20${multi ? ', MULTI/EXEC' : ''}${replicaSeed ? "; seeded with a replica's listener" : ''}`,
    replicaSeed,
    async run(port) {
      const c = new IoCluster([{ host: HOST, port }], opts);
      try {
        for (const k of keys) await c.set(k, k);
        for (const k of keys) await c.get(k);
        await c.mget(...keys);
        const p = c.pipeline();
        for (const k of keys) p.set(k, `${k}!`).get(k);
        await p.exec();
        if (multi) await c.multi().set(keys[0]!, 'm').get(keys[0]!).exec();
      } finally {
        // quit, then disconnect: no reconnect may reach the next workload's slotrelay (same ports).
        await c.quit().catch(() => {});
        c.disconnect();
      }
    },
  };
}

function nodeRedisWorkload(name: string, resp3: boolean, multi: boolean): Workload {
  return {
    name,
    does: `SET/GET ×10, MGET, pipeline (multi().execAsPipeline) of 20${multi ? ', MULTI/EXEC' : ''}`,
    async run(port) {
      const c = createCluster({ rootNodes: [{ url: `redis://${HOST}:${port}` }], ...(resp3 ? { RESP: 3 } : {}) });
      c.on('error', (e: Error) => log(`${name}: ${e.message}`));
      await c.connect();
      try {
        for (const k of keys) await c.set(k, k);
        for (const k of keys) await c.get(k);
        await c.mGet(keys);
        const p = c.multi();
        for (const k of keys) p.set(k, `${k}!`).get(k);
        await p.execAsPipeline();
        if (multi) await c.multi().set(keys[0]!, 'm').get(keys[0]!).exec();
      } finally {
        await c.close();
      }
    },
  };
}

const PY = `
import sys
from redis.cluster import RedisCluster
port, multi = int(sys.argv[1]), sys.argv[2] == '1'
keys = ['${TAG}:k%d' % i for i in range(10)]
c = RedisCluster(host='${HOST}', port=port)
for k in keys: c.set(k, k)
for k in keys: c.get(k)
c.mget(keys)
p = c.pipeline()
for k in keys: p.set(k, k + '!').get(k)
p.execute()
if multi:
    try:
        t = c.pipeline(transaction=True)
        t.set(keys[0], 'm').get(keys[0])
        t.execute()
    except Exception as e:
        print('transaction: %s: %s' % (type(e).__name__, e), file=sys.stderr)
c.close()
`;

function run(cmd: string, args: readonly string[], input?: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (stderr.trim()) log(`${path.basename(cmd)}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) p.stdin!.end(input);
  });
}

function pythonWorkload(name: string, python: string, script: string, multi: boolean): Workload {
  return {
    name,
    does: `SET/GET ×10, MGET, pipeline of 20${multi ? ', pipeline(transaction=True)' : ''}`,
    run: async (port) => void (await run(python, [script, String(port), multi ? '1' : '0'])),
  };
}

const benchmarkWorkload: Workload = {
  name: 'redis-benchmark',
  does: '--cluster -c 50 -n 20000 -t set,get -P 1',
  run: async (port) =>
    void (await run('redis-benchmark', [
      '-h',
      HOST,
      '-p',
      String(port),
      '--cluster',
      '-c',
      '50',
      '-n',
      '20000',
      '-t',
      'set,get',
      '-P',
      '1',
      '-q',
    ])),
};

const cliWorkload: Workload = {
  name: 'redis-cli -c',
  does: 'one session: SET, GET, MGET, INCR, DEL over 3 slots (follows MOVED)',
  run: async (port) =>
    void (await run(
      'redis-cli',
      ['-c', '-h', HOST, '-p', String(port)],
      ['SET a 1', 'GET a', 'SET b 2', 'GET b', `MGET ${keys.slice(0, 3).join(' ')}`, 'INCR c', 'DEL a b c', ''].join(
        '\n',
      ),
    )),
};

interface Row {
  name: string;
  does: string;
  shared: number;
  pinned: number;
  sharedConnections: number;
  /** connected_clients per node before the run (slotrelay idle), and its peak during the run. */
  idle: number[];
  redis: number[];
  /** slotrelay_upstream_shared_connections before the run. */
  sharedBefore: number;
  held: number[] | null;
  pinReasons: string;
  error?: string;
}

/**
 * MONITOR on every node while a workload runs: what each connection of slotrelay sent, by its
 * local port, so the request that pinned a session can be named (the first one on its own
 * connection after the handshake).
 */
function monitor(ports: readonly number[]): { stop(): Map<number, string[][]> } {
  const byPort = new Map<number, string[][]>();
  const socks = ports.map((port) => {
    const sock = net.connect({ host: HOST, port });
    sock.on('error', () => {});
    sock.write('MONITOR\r\n');
    let partial = '';
    sock.on('data', (d: Buffer) => {
      const parts = (partial + d.toString('latin1')).split('\r\n');
      partial = parts.pop()!;
      for (const l of parts) {
        const m = /^\+\d+\.\d+ \[\d+ [^\]]*:(\d+)\] (.*)$/.exec(l);
        if (!m) continue;
        const src = Number(m[1]);
        const list = byPort.get(src) ?? [];
        // Bounded: the first 20 commands of each connection are all that is looked at.
        if (list.length < 20) list.push([...m[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!));
        byPort.set(src, list);
      }
    });
    return sock;
  });
  return {
    stop() {
      for (const s of socks) s.destroy();
      return byPort;
    },
  };
}

/** What slotrelay sends on a connection of its own before the session's requests (each once). */
const HANDSHAKE = ['HELLO', 'AUTH', 'READONLY', 'CLIENT SETNAME', 'SELECT'];
/** Requests that change the pool key: a second one while the first is under way pins. */
const KEY_CHANGE = new Set(['HELLO', 'AUTH', 'READONLY', 'READWRITE']);
/** CLIENT subcommands that pin (core's sharing.ts). */
const PIN_CLIENT = new Set(['TRACKING', 'CACHING', 'GETREDIR', 'TRACKINGINFO', 'REPLY', 'NO-EVICT', 'NO-TOUCH', 'ID']);

const nameOf = (c: readonly string[]) => {
  const n = c[0]!.toUpperCase();
  return n === 'CLIENT' ? `CLIENT ${c[1]?.toUpperCase() ?? ''}` : n;
};

/**
 * Which request pinned, from what the session's own connection got: its handshake dropped, the
 * first request that pins by name (MULTI, WATCH, blocking, SUBSCRIBE, CLIENT TRACKING …); else a
 * key change (READONLY, AUTH, HELLO) that came while another one was under way; else the first.
 */
function pinningRequest(sent: readonly string[][]): string {
  let i = 0;
  const seen = new Set<string>();
  for (; i < sent.length; i++) {
    const n = nameOf(sent[i]!);
    if (!HANDSHAKE.includes(n) || seen.has(n)) break;
    seen.add(n);
  }
  const rest = sent.slice(i);
  const byName = rest.find((c) => pinsByName(c[0]!.toUpperCase()) || PIN_CLIENT.has(nameOf(c).slice(7)));
  if (byName) return nameOf(byName);
  const key = rest.find((c) => KEY_CHANGE.has(nameOf(c)));
  if (key) return `${nameOf(key)} (a 2nd key change while one was under way)`;
  return rest[0] ? nameOf(rest[0]) : '?';
}

/**
 * The requests that pinned sessions: from the debug log (a session's `pinned to a connection of
 * its own`, then its `session opened` naming the upstream port) and MONITOR (what that port sent).
 */
function pinReasons(lines: readonly string[], sent: Map<number, string[][]>): string {
  const pinned = new Set<string>();
  const reasons = new Map<string, number>();
  const count = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
  for (const l of lines) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(l) as Record<string, unknown>;
    } catch {
      continue;
    }
    const id = `${String(o.connection)}#${String(o.session)}`;
    if (o.msg === 'pinned to a connection of its own') pinned.add(id);
    else if (o.msg === 'session opened' && pinned.has(id) && typeof o.upstreamPort === 'number') {
      pinned.delete(id);
      const cmds = sent.get(o.upstreamPort) ?? [];
      if (process.env.SHARE_DEBUG) log(`pinned ${id}, upstream port ${o.upstreamPort}: ${JSON.stringify(cmds)}`);
      count(pinningRequest(cmds));
    }
  }
  for (const _ of pinned) count('?');
  return [...reasons].map(([c, n]) => `${c} ×${n}`).join(', ') || '–';
}

/** A listener that fronts a replica, from CLUSTER NODES through the proxy (it names its listeners). */
async function replicaListener(port: number): Promise<number> {
  const [reply] = await query(port, [['CLUSTER', 'NODES']]);
  const line = (reply?.data?.toString('utf8') ?? '').split('\n').find((l) => l.split(' ')[2]?.includes('slave'));
  const m = line === undefined ? null : /:(\d+)@/.exec(line);
  if (!m) throw new Error('no replica in CLUSTER NODES');
  return Number(m[1]);
}

async function measure(fleet: Fleet, cluster: LocalCluster, w: Workload): Promise<Row> {
  const nodePorts = cluster.nodes.map((n) => n.port);
  // Both minus the INFO sampler's own connection; the peak also minus MONITOR's.
  const idle = (await connectionBaseline(nodePorts)).map((x) => x - 1);
  const before = await scrape(fleet.metricsPort);
  const from = fleet.lines.length;
  const poll = pollConnections(nodePorts, fleet.child.pid, 100, 60_000);
  const mon = monitor(nodePorts);
  await sleep(100);
  let peakShared = before.sharedConnections;
  let polling = true;
  const gauge = (async () => {
    for (let i = 0; polling && i < 600; i++) {
      peakShared = Math.max(peakShared, (await scrape(fleet.metricsPort)).sharedConnections);
      await sleep(100);
    }
  })();
  let error: string | undefined;
  const t0 = Date.now();
  try {
    await w.run(w.replicaSeed ? await replicaListener(fleet.ports[0]!) : fleet.ports[0]!);
  } catch (e) {
    error = (e as Error).message;
    log(`${w.name}: ${error}`);
  }
  // One more sample after the workload: sessions close and the counters settle.
  await sleep(300);
  polling = false;
  await gauge;
  const peaks = await poll.stop();
  const sent = mon.stop();
  const after = await scrape(fleet.metricsPort);
  log(`${w.name}: ${Date.now() - t0} ms`);
  return {
    name: w.name,
    does: w.does,
    shared: after.shared - before.shared,
    pinned: after.pinned - before.pinned,
    sharedConnections: peakShared,
    redis: peaks.redis.map((x) => x - 2),
    idle,
    sharedBefore: before.sharedConnections,
    held: peaks.held,
    pinReasons: pinReasons(fleet.lines.slice(from), sent),
    ...(error === undefined ? {} : { error }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      python: { type: 'string', default: '/work/peers/venv/bin/python' },
      only: { type: 'string' },
      multiplex: { type: 'string' },
      log: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || (values.multiplex !== undefined && !['on', 'off'].includes(values.multiplex))) {
    process.stderr.write(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const multiplex = values.multiplex === undefined ? undefined : values.multiplex === 'on';
  const python = values.python!;
  const hasPy =
    fs.existsSync(python) &&
    (await run(python, ['-c', 'import redis; print(redis.__version__)']).then(
      (v) => (log(`redis-py ${v.trim()}`), true),
      () => false,
    ));
  if (!hasPy) log(`no redis-py at ${python}: skipping it (python3 -m venv … && pip install redis)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-share-py-'));
  const script = path.join(dir, 'share.py');
  fs.writeFileSync(script, PY);
  const all: Workload[] = [
    ioredisWorkload('ioredis', {}, false),
    ioredisWorkload('ioredis connectionName', { redisOptions: { connectionName: 'x' } }, false),
    ioredisWorkload('ioredis + MULTI', {}, true),
    ioredisWorkload('ioredis, replica seed', {}, false, true),
    nodeRedisWorkload('node-redis', false, false),
    nodeRedisWorkload('node-redis RESP3', true, false),
    nodeRedisWorkload('node-redis + MULTI', false, true),
    ...(hasPy
      ? [pythonWorkload('redis-py', python, script, false), pythonWorkload('redis-py + MULTI', python, script, true)]
      : []),
    benchmarkWorkload,
    cliWorkload,
  ];
  const only = values.only?.split(',').filter(Boolean);
  const workloads = only ? all.filter((w) => only.some((o) => w.name.startsWith(o))) : all;

  log('starting a local 6-node Redis Cluster (3 masters, 3 replicas)');
  const cluster = await startCluster();
  const rows: Row[] = [];
  const logs: string[] = [];
  try {
    // A fresh slotrelay per workload: its pools, connections and counters are that client's alone.
    for (const w of workloads) {
      const fleet = await startFleet(cluster.seeds, cluster.nodes.length, multiplex);
      try {
        log(
          `${w.name}: slotrelay pid ${fleet.child.pid}, listeners ${fleet.ports.join(',')}, metrics ${fleet.metricsPort}`,
        );
        rows.push(await measure(fleet, cluster, w));
      } finally {
        await fleet.stop();
        if (values.log) logs.push(...fleet.lines);
      }
    }
    process.stdout.write(report(rows, cluster, multiplex));
  } finally {
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (values.log) fs.writeFileSync(values.log, `${logs.join('\n')}\n`);
  }
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

function report(rows: readonly Row[], cluster: LocalCluster, mux: boolean | undefined): string {
  const nodes = cluster.nodes.map((n) => `${n.port}${n.role === 'master' ? 'm' : 'r'}`).join('/');
  const out = [
    `## slotrelay: sessions that stay on shared connections, per client (${new Date().toISOString().slice(0, 16)}Z)`,
    '',
    `multiplex: ${mux === undefined ? 'product default' : mux}; upstreamPool: product default; a fresh slotrelay (6 listeners) per client.`,
    `Redis nodes ${nodes} (m master, r replica). Connections per node are listed in that order:`,
    "Redis's connected_clients (INFO clients) idle → highest during the run (the harness's own INFO and MONITOR",
    "connections not counted; replication links are), and slotrelay's own connections to each node (/proc).",
    '',
    '| client | does | sessions shared | pinned | share shared | shared connections idle → peak | Redis connected_clients per node, idle → peak | slotrelay → Redis per node (peak) | pinned by |',
    '|---|---|--:|--:|--:|--:|---|---|---|',
  ];
  for (const r of rows) {
    const share = r.shared > 0 ? `${(100 * (1 - r.pinned / r.shared)).toFixed(1)} %` : '–';
    out.push(
      `| ${r.name}${r.error ? ' (error)' : ''} | ${r.does} | ${r.shared} | ${r.pinned} | ${share} | ${r.sharedBefore} → ${r.sharedConnections} | ${r.idle.join('/')} → ${r.redis.join('/')} | ${r.held?.join('/') ?? '?'} | ${r.pinReasons} |`,
    );
  }
  for (const r of rows) if (r.error) out.push('', `${r.name}: ${r.error}`);
  out.push('');
  return `${out.join('\n')}\n`;
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
