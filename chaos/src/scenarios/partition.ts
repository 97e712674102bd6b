import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { fleetConfig } from '@slotrelay/host';
import type { Outcome, Scenario, ScenarioContext } from '../types.js';
import { Child, type Message } from '../support/child.js';
import { NetnsLab, netnsUnavailable, sweepStaleNamespaces, type NetnsHost } from '../support/netns.js';
import type { ClientOptions, InspectedReply } from '../support/netns-client.js';
import { judgePartition, RECOVERY_BOUND_S, secs, warnLines, type Tick } from './partition-judge.js';

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

/** The proxies' config files live in `$TMPDIR/<prefix><pid>-XXXXXX`, so a later run can tell a dead run's dir. */
const DIR_PREFIX = 'slotrelay-chaos-netns-';

/** Remove config dirs of runs that are gone (a SIGKILLed runner cannot); returns their names. */
function sweepStaleDirs(): string[] {
  const stale = readdirSync(tmpdir()).filter((n) => {
    const pid = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(n)?.[1];
    if (!pid) return false;
    try {
      process.kill(Number(pid), 0);
      return Number(pid) === process.pid;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  });
  for (const n of stale) rmSync(path.join(tmpdir(), n), { recursive: true, force: true });
  return stale;
}

const SCALE = {
  quick: { warmMs: 1500, cutMs: 3000, steadyMs: 1500, keysPerGroup: 8, workersPerGroup: 2 },
  full: { warmMs: 5000, cutMs: 10_000, steadyMs: 5000, keysPerGroup: 32, workersPerGroup: 4 },
};

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
    const swept = [...sweepStaleNamespaces(), ...sweepStaleDirs()];
    if (swept.length > 0) ctx.log(`removed leftovers of earlier runs: ${swept.join(' ')}`);

    const hosts: NetnsHost[] = [
      { role: 'redis', address: REDIS_IP },
      ...PROXY_IPS.map((address, i) => ({ role: `p${i + 1}`, address })),
      { role: 'cli', address: CLIENT_IP },
    ];
    const lab = new NetnsLab(hosts);
    const dir = mkdtempSync(path.join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
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
    const p = new Child(`proxy ${i + 1}`, [
      ...lab.exec(`p${i + 1}`),
      process.execPath,
      '--import',
      EXIT_WITH_PARENT,
      '--import',
      AWAIT_CONFIG,
      CLI,
      '--config',
      file,
    ]);
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

  const before = await client.next<Message & { replies: InspectedReply[]; waitedMs: number; tookMs: number }>(
    'inspect',
    45_000,
  );
  ctx.log(
    `client: every proxy answered PING after ${secs(before.waitedMs)} s of waiting; inspection took ${secs(before.tookMs)} s`,
  );
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
  ctx.log(
    tRecovered
      ? `victim's slots served again ${secs(tRecovered - tUp)} s after link up`
      : 'victim slots NOT served again',
  );
  const probe = await client.next<Message & { t: number | null }>('probe', 70_000);
  await delay(scale.steadyMs);
  const tStop = Date.now();
  client.send('stop');
  const done = await client.next<Message & { inspect: InspectedReply[]; errors: Record<string, number> }>(
    'done',
    30_000,
  );
  const proxiesAlive = proxies.filter((p) => p.running).length;
  const warnings = proxies.map((p) => warnLines(p.tail));
  ctx.log(`workload stopped and second inspection done in ${secs(Date.now() - tStop)} s`);

  return judgePartition({
    proxies: PROXIES,
    redisIp: REDIS_IP,
    hosts: `redis ${REDIS_IP} ×6 nodes, proxies ${PROXY_IPS[0]}–${PROXY_IPS.at(-1)}, client ${CLIENT_IP}`,
    before: before.replies,
    after: done.inspect,
    errors: done.errors,
    ticks: ticks(),
    victim,
    tCut,
    tUp,
    tRecovered,
    tFresh: probe.t ?? undefined,
    proxiesAlive,
    victimWarnings: warnings[victimIndex]!,
    otherWarnings: warnings.filter((_, i) => i !== victimIndex).flat(),
    commandTimeoutMs: clientOpts.commandTimeoutMs,
  });
}
