import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { fleetConfig } from '@slotrelay/host';
import { check, type Check, type Outcome, type Scenario, type ScenarioContext } from '../types.js';
import { Child, type Message } from '../support/child.js';
import { foreignAddresses } from '../support/addresses.js';
import { NetnsLab, netnsUnavailable, sweepStaleNamespaces, type NetnsHost } from '../support/netns.js';
import type { ClientOptions, InspectedReply } from '../support/netns-client.js';

const CLI = fileURLToPath(new URL('../../../packages/host/dist/cli.js', import.meta.url));
// The children run the built scripts, also when this file runs from source (vitest).
const SUPPORT = new URL('../../dist/support/', import.meta.url);
const CLUSTER_HOST = fileURLToPath(new URL('netns-cluster.js', SUPPORT));
const CLIENT = fileURLToPath(new URL('netns-client.js', SUPPORT));
const EXIT_WITH_PARENT = new URL('exit-with-parent.js', SUPPORT).href;
const AWAIT_CONFIG = new URL('await-config.js', SUPPORT).href;

/** All Redis nodes share one address (their own host); each proxy has its own, so a leak shows by IP alone. */
const REDIS_IP = '198.18.0.10';
const PROXY_IPS = Array.from({ length: 6 }, (_, i) => `198.18.0.${11 + i}`);
const CLIENT_IP = '198.18.0.100';
/** Every proxy host uses the same port, as a fleet of separate machines would. */
const PROXY_PORT = 6391;
const PROXIES = PROXY_IPS.map((ip) => `${ip}:${PROXY_PORT}`);

/**
 * After the link returns, a connection whose packets were dropped recovers at its next TCP
 * retransmission, and the retransmission timer doubles from 200 ms while the link is down: the
 * next one comes at most about as long after the link returns as the cut lasted. 15 s covers a
 * 10 s cut with room for a loaded machine.
 */
const RECOVERY_BOUND_S = 15;
/**
 * Share of ops allowed to fail where none should (the other slots throughout, the cut slots once
 * recovered): room for a stall past the command timeout on a loaded machine; the expectation is 0.
 */
const STRAY_ERROR_RATE = 0.005;

const SCALE = {
  quick: { warmMs: 1500, cutMs: 3000, steadyMs: 1500, keysPerGroup: 8, workersPerGroup: 2 },
  full: { warmMs: 5000, cutMs: 10_000, steadyMs: 5000, keysPerGroup: 32, workersPerGroup: 4 },
};

interface GroupTick {
  ok: number;
  err: number;
  /** Per worker: when its current run of successes began; 0 after a failure. */
  okSince: number[];
}
interface Tick extends Message {
  /** The tick counts ops that ended between `from` and `t`. */
  from: number;
  t: number;
  groups: Record<string, GroupTick>;
}

/**
 * A multi-host fleet on one machine, in network namespaces: the six Redis nodes on one host
 * (198.18.0.10), each proxy on its own (198.18.0.11–16, all on port 6391), the clients on another
 * (198.18.0.100), all behind a bridge in a namespace of its own (see {@link NetnsLab}). Nothing
 * shares a loopback, so an address the mapping took from the wrong place (a listener's bind
 * address, a Redis address, 127.0.0.1) shows up or breaks.
 *
 * It checks every address-bearing reply through every proxy (RESP2 and RESP3), then, while an
 * ioredis Cluster workload writes keys of every master's slots, pulls the cable of one master's
 * proxy host, plugs it back, and measures what the clients see and how soon they are served again.
 */
export const partition: Scenario = {
  name: 'partition',
  title: 'multi-host fleet in network namespaces: one proxy host cut off, then back',
  async run(ctx) {
    const why = netnsUnavailable();
    if (why) return { figures: {}, checks: [], skipped: why };
    const swept = sweepStaleNamespaces();
    if (swept.length > 0) ctx.log(`removed stale namespaces of earlier runs: ${swept.join(' ')}`);

    const hosts: NetnsHost[] = [
      { role: 'redis', address: REDIS_IP },
      ...PROXY_IPS.map((address, i) => ({ role: `p${i + 1}`, address })),
      { role: 'cli', address: CLIENT_IP },
    ];
    const lab = new NetnsLab(hosts);
    const dir = mkdtempSync(path.join(tmpdir(), 'slotrelay-chaos-netns-'));
    const children: Child[] = [];
    const cleanup = async () => {
      await Promise.all(children.map((c) => c.stop()));
      lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    };
    // Ctrl-C or a kill of the runner must not leave namespaces or processes behind.
    const onSignal = (sig: NodeJS.Signals) => void cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    const onExit = () => {
      for (const c of children) c.killNow();
      lab.destroy();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', onExit);
    try {
      lab.build();
      return await partitionRun(ctx, lab, dir, children);
    } finally {
      const t = Date.now();
      await cleanup();
      ctx.log(`processes stopped and namespaces removed in ${secs(Date.now() - t)} s`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    }
  },
};

async function partitionRun(ctx: ScenarioContext, lab: NetnsLab, dir: string, children: Child[]): Promise<Outcome> {
  const scale = ctx.quick ? SCALE.quick : SCALE.full;
  const t0 = Date.now();

  const clientOpts: ClientOptions = {
    proxies: PROXIES,
    keysPerGroup: scale.keysPerGroup,
    workersPerGroup: scale.workersPerGroup,
    commandTimeoutMs: 1000,
    tickMs: 250,
    pauseMs: 5,
    readyTimeoutMs: 120_000,
  };
  // Every address is fixed in advance, so the client and the proxies load while Redis starts; the
  // client waits for the proxies, each proxy (await-config) for its config file.
  const client = new Child('client', [...lab.exec('cli'), process.execPath, CLIENT, JSON.stringify(clientOpts)]);
  children.push(client);
  const files = PROXIES.map((_, i) => path.join(dir, `proxy-${i + 1}.json`));
  const proxies = files.map((file, i) => {
    const p = new Child(`proxy ${i + 1}`, [...lab.exec(`p${i + 1}`), process.execPath, '--import', EXIT_WITH_PARENT, '--import', AWAIT_CONFIG, CLI, '--config', file]);
    children.push(p);
    return p;
  });
  const redis = new Child('redis host', [...lab.exec('redis'), process.execPath, CLUSTER_HOST, REDIS_IP, '3', '1']);
  children.push(redis);
  const { seeds } = await redis.next<Message & { seeds: string[] }>('ready', 90_000);
  ctx.log(`cluster of ${seeds.length} nodes on ${REDIS_IP} (redis namespace) after ${secs(Date.now() - t0)} s`);

  // Each proxy: its own host, its own config file naming only its own connection.
  const config = fleetConfig(seeds.slice(0, 2), PROXY_PORT, PROXIES.length);
  config.log = { level: 'info' };
  config.connections.forEach((c, i) => {
    c.localAddress = PROXY_IPS[i]!;
    c.localPort = PROXY_PORT;
    c.clusterMembers = [...PROXIES];
    // Whole or not at all: the proxy reads the file as soon as it exists.
    writeFileSync(`${files[i]}.tmp`, JSON.stringify({ ...config, connections: [c] }, null, 2));
    renameSync(`${files[i]}.tmp`, files[i]!);
  });

  const before = await client.next<Message & { replies: InspectedReply[]; waitedMs: number; tookMs: number }>('inspect', 45_000);
  ctx.log(`client: every proxy answered PING after ${secs(before.waitedMs)} s of waiting; inspection took ${secs(before.tookMs)} s`);
  const ready = await client.next<Message & { groups: Record<string, string[]> }>('ready', 30_000);
  ctx.log(`6 proxies up, workload running after ${secs(Date.now() - t0)} s`);

  // Cut the proxy of one master: its slots have no other way in.
  const victim = Object.keys(ready.groups).sort()[0]!;
  const victimIndex = PROXIES.indexOf(victim);
  if (victimIndex < 0) throw new Error(`the client's slot map names ${victim}, not a proxy (${PROXIES.join(' ')})`);
  await delay(scale.warmMs);
  lab.setLink(`p${victimIndex + 1}`, false);
  const tCut = Date.now();
  ctx.log(`link of proxy ${victimIndex + 1} (${victim}) down`);
  await delay(scale.cutMs);
  lab.setLink(`p${victimIndex + 1}`, true);
  const tUp = Date.now();
  client.send(`probe ${victim}`);
  ctx.log(`link of proxy ${victimIndex + 1} up again after ${secs(tUp - tCut)} s`);

  // Recovered once every worker on the victim's slots has succeeded since the link returned.
  const ticks = () => client.all<Tick>('tick');
  const recoveredAt = async (): Promise<number | undefined> => {
    const deadline = tUp + (RECOVERY_BOUND_S + 5) * 1000;
    while (Date.now() < deadline) {
      const last = ticks().at(-1);
      if (last && last.groups[victim]!.okSince.every((t) => t > tUp)) return Math.max(...last.groups[victim]!.okSince);
      await delay(100);
    }
    return undefined;
  };
  const tRecovered = await recoveredAt();
  ctx.log(tRecovered ? `victim's slots served again ${secs(tRecovered - tUp)} s after link up` : 'victim slots NOT served again');
  const probe = await client.next<Message & { t: number | null }>('probe', 70_000);
  await delay(scale.steadyMs);
  const tStop = Date.now();
  client.send('stop');
  const done = await client.next<Message & { inspect: InspectedReply[]; errors: Record<string, number> }>('done', 30_000);
  const proxiesAlive = proxies.filter((p) => p.running).length;
  const warnings = proxies.map((p) => warnLines(p.tail));
  ctx.log(`workload stopped and second inspection done in ${secs(Date.now() - tStop)} s`);

  return judge({ before: before.replies, after: done.inspect, errors: done.errors, ticks: ticks(), victim, tCut, tUp, tRecovered, tFresh: probe.t ?? undefined, proxiesAlive, victimWarnings: warnings[victimIndex]!, otherWarnings: warnings.filter((_, i) => i !== victimIndex).flat(), commandTimeoutMs: clientOpts.commandTimeoutMs });
}

function judge(r: {
  before: InspectedReply[];
  after: InspectedReply[];
  errors: Record<string, number>;
  ticks: Tick[];
  victim: string;
  tCut: number;
  tUp: number;
  tRecovered: number | undefined;
  /** When a fresh connection through the cut proxy first got PONG. */
  tFresh: number | undefined;
  proxiesAlive: number;
  /** The proxies' log lines at warn or above (messages), the cut one's and the others'. */
  victimWarnings: string[];
  otherWarnings: string[];
  commandTimeoutMs: number;
}): Outcome {
  const { victim, tCut, tUp, tRecovered } = r;
  // Only ticks wholly inside [from, to] count.
  const within = (from: number, to: number) => r.ticks.filter((t) => t.from >= from && t.t <= to);
  const sum = (from: number, to: number, pick: (g: string, x: GroupTick) => number) =>
    within(from, to).reduce((n, t) => n + Object.entries(t.groups).reduce((m, [g, x]) => m + pick(g, x), 0), 0);
  const span = (from: number, to: number) => within(from, to).reduce((ms, t) => ms + t.t - t.from, 0);
  const others = (f: 'ok' | 'err') => (g: string, x: GroupTick) => (g === victim ? 0 : x[f]);
  const mine = (f: 'ok' | 'err') => (g: string, x: GroupTick) => (g === victim ? x[f] : 0);
  const start = r.ticks[0]?.from ?? tCut;
  const end = r.ticks.at(-1)?.t ?? tUp;

  const othersOps = sum(0, Infinity, others('ok')) + sum(0, Infinity, others('err'));
  const othersErr = sum(0, Infinity, others('err'));
  const rate = (ok: number, ms: number) => Math.round(ok / Math.max(ms / 1000, 0.001));
  const othersRateBefore = rate(sum(start, tCut, others('ok')), span(start, tCut));
  const othersRateCut = rate(sum(tCut, tUp, others('ok')), span(tCut, tUp));
  // Packets already on the wire at the cut may still land: judge from 200 ms in.
  const victimOkCut = sum(tCut + 200, tUp, mine('ok'));
  // Commands sent while the link was down time out up to one command timeout after it returned.
  const settled = (tRecovered ?? end) + r.commandTimeoutMs;
  const victimErrCut = sum(tCut, settled, mine('err'));
  const victimErrAfter = sum(settled, Infinity, mine('err'));
  const victimOkAfter = sum(settled, Infinity, mine('ok'));
  const firstOk = r.ticks.find((t) => t.t > tUp && t.groups[victim]!.okSince.some((x) => x > tUp));
  const firstOkS = firstOk ? secs(Math.min(...firstOk.groups[victim]!.okSince.filter((x) => x > tUp)) - tUp) : null;
  const recoveryS = tRecovered ? secs(tRecovered - tUp) : null;
  const freshS = r.tFresh ? secs(r.tFresh - tUp) : null;

  const replies = [...r.before, ...r.after];
  const leaks = replies.flatMap((x) => foreignAddresses(x.reply ?? x.error ?? '', PROXIES).map((a) => `${x.proxy} RESP${x.protocol} ${x.command}: ${a}`));
  const failed = replies.filter((x) => x.error !== undefined && !x.error.startsWith('MOVED '));
  const moved = replies.filter((x) => x.error?.startsWith('MOVED ')).length;
  const redisNamed = leaks.filter((l) => l.includes(REDIS_IP)).length;

  const checks: Check[] = [
    check(
      'CLUSTER NODES/SLOTS/SHARDS/REPLICAS, INFO replication, ROLE and MOVED through every proxy name only proxy addresses (before and after the cut)',
      leaks.length === 0 && failed.length === 0 && moved >= PROXIES.length,
      leaks.length > 0 ? `${leaks.length} foreign: ${leaks.slice(0, 4).join('; ')}` : failed.length > 0 ? `${failed.length} failed: ${failed.slice(0, 2).map((f) => `${f.proxy} ${f.command}: ${f.error}`).join('; ')}` : `${replies.length} replies (RESP2 and RESP3, ${moved} MOVED), every address one of the 6 proxies, ${REDIS_IP} nowhere`,
    ),
    check(
      `clients of the other slots unaffected (errors ≤ ${STRAY_ERROR_RATE * 100}% of their ops, still served during the cut)`,
      othersErr <= STRAY_ERROR_RATE * othersOps && othersRateCut > 0,
      `${othersErr} errors in ${othersOps} ops; ${othersRateBefore} ops/s before the cut, ${othersRateCut} during`,
    ),
    check(
      "the cut proxy's slots unreachable while its link is down (clients see errors, nothing gets through another way)",
      victimOkCut === 0 && victimErrCut > 0,
      `${victimOkCut} ops through from 200 ms after the cut to link up; ${victimErrCut} errors from the cut until served again`,
    ),
    check(
      `the cut proxy serves a new connection, and every client of its slots is served again, within ${RECOVERY_BOUND_S} s of link up, then without errors (≤ ${STRAY_ERROR_RATE * 100}%)`,
      freshS !== null && freshS <= RECOVERY_BOUND_S && recoveryS !== null && recoveryS <= RECOVERY_BOUND_S && victimOkAfter > 0 && victimErrAfter <= STRAY_ERROR_RATE * (victimOkAfter + victimErrAfter),
      `new connection ${freshS ?? 'never'} s; workload: first op ${firstOkS ?? 'never'} s, every worker ${recoveryS ?? 'not within the wait'} s after link up; afterwards ${victimOkAfter} ops, ${victimErrAfter} errors`,
    ),
    check('every proxy process still running (its host was cut off, not its process)', r.proxiesAlive === PROXIES.length, `${r.proxiesAlive} of ${PROXIES.length}`),
  ];
  return {
    figures: {
      'hosts (namespaces)': `redis ${REDIS_IP} ×6 nodes, proxies ${PROXY_IPS[0]}–${PROXY_IPS.at(-1)}, client ${CLIENT_IP}`,
      'cut proxy': victim,
      'cut.s': secs(tUp - tCut),
      'addresses.replies checked': replies.length,
      'addresses.foreign': leaks.length,
      'addresses.redis named': redisNamed,
      // middleware-cluster-cmds keeps `@cport`: the cluster bus is not proxied, and clients never dial it.
      'addresses.not judged': "Redis's bus port after @ in CLUSTER NODES",
      'others.ops': othersOps,
      'others.errors': othersErr,
      'others.ops/s before cut': othersRateBefore,
      'others.ops/s during cut': othersRateCut,
      'cut slots.ops through during cut': victimOkCut,
      'cut slots.errors until served again': victimErrCut,
      'recovery.new connection s': freshS,
      'recovery.first op s': firstOkS,
      'recovery.all workers s': recoveryS,
      'cut slots.errors after recovery': victimErrAfter,
      'client errors seen': Object.entries(r.errors).map(([m, n]) => `${n}× ${m}`).join('; ') || 'none',
      'cut proxy log (warn+)': summarize(r.victimWarnings),
      'other proxies log (warn+)': summarize(r.otherWarnings),
    },
    checks,
  };
}

/** Messages of pino log lines at warn (40) or above. */
function warnLines(lines: readonly string[]): string[] {
  return lines.flatMap((l) => {
    try {
      const o = JSON.parse(l) as { level?: number; msg?: string };
      return (o.level ?? 0) >= 40 ? [o.msg ?? l] : [];
    } catch {
      return [];
    }
  });
}

function summarize(msgs: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const m of msgs) counts.set(m.slice(0, 100), (counts.get(m.slice(0, 100)) ?? 0) + 1);
  return [...counts].map(([m, n]) => `${n}× ${m}`).join('; ') || 'none';
}

function secs(ms: number): number {
  return Math.round(ms / 100) / 10;
}
