import { check, type Check, type Outcome } from '../types.js';
import type { Message } from '../support/child.js';
import { foreignAddresses } from '../support/addresses.js';
import type { InspectedReply } from '../support/netns-client.js';

/**
 * After the link returns, a connection whose packets were dropped recovers at its next TCP
 * retransmission, and the retransmission timer doubles from 200 ms while the link is down: the
 * next one comes at most about as long after the link returns as the cut lasted. 15 s covers a
 * 10 s cut with room for a loaded machine.
 */
export const RECOVERY_BOUND_S = 15;
/**
 * Share of ops allowed to fail where none should (the other slots throughout, the cut slots once
 * recovered): room for a stall past the command timeout on a loaded machine; the expectation is 0.
 */
export const STRAY_ERROR_RATE = 0.005;

export interface GroupTick {
  ok: number;
  err: number;
  /** Per worker: when its current run of successes began; 0 after a failure. */
  okSince: number[];
}
export interface Tick extends Message {
  /** The tick counts ops that ended between `from` and `t`. */
  from: number;
  t: number;
  groups: Record<string, GroupTick>;
}

/** What a partition run recorded, for {@link judgePartition}. */
export interface PartitionRecord {
  /** Every proxy's `host:port`, the only addresses a reply may name. */
  proxies: string[];
  redisIp: string;
  /** The layout, for the figures. */
  hosts: string;
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
}

/** The figures and checks of a partition run. */
export function judgePartition(r: PartitionRecord): Outcome {
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
  const leaks = replies.flatMap((x) =>
    foreignAddresses(x.reply ?? x.error ?? '', r.proxies).map((a) => `${x.proxy} RESP${x.protocol} ${x.command}: ${a}`),
  );
  const failed = replies.filter((x) => x.error !== undefined && !x.error.startsWith('MOVED '));
  const moved = replies.filter((x) => x.error?.startsWith('MOVED ')).length;
  const redisNamed = replies.filter((x) => JSON.stringify(x.reply ?? x.error ?? '').includes(r.redisIp)).length;

  const checks: Check[] = [
    check(
      'CLUSTER NODES/SLOTS/SHARDS/REPLICAS, INFO replication, ROLE and MOVED through every proxy name only proxy addresses (before and after the cut)',
      leaks.length === 0 && failed.length === 0 && moved >= r.proxies.length,
      leaks.length > 0
        ? `${leaks.length} foreign: ${leaks.slice(0, 4).join('; ')}`
        : failed.length > 0
          ? `${failed.length} failed: ${failed
              .slice(0, 2)
              .map((f) => `${f.proxy} ${f.command}: ${f.error}`)
              .join('; ')}`
          : `${replies.length} replies (RESP2 and RESP3, ${moved} MOVED), every address one of the ${r.proxies.length} proxies, ${r.redisIp} nowhere`,
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
      freshS !== null &&
        freshS <= RECOVERY_BOUND_S &&
        recoveryS !== null &&
        recoveryS <= RECOVERY_BOUND_S &&
        victimOkAfter > 0 &&
        victimErrAfter <= STRAY_ERROR_RATE * (victimOkAfter + victimErrAfter),
      `new connection ${freshS ?? 'never'} s; workload: first op ${firstOkS ?? 'never'} s, every worker ${recoveryS ?? 'not within the wait'} s after link up; afterwards ${victimOkAfter} ops, ${victimErrAfter} errors`,
    ),
    check(
      'every proxy process still running (its host was cut off, not its process)',
      r.proxiesAlive === r.proxies.length,
      `${r.proxiesAlive} of ${r.proxies.length}`,
    ),
  ];
  return {
    figures: {
      'hosts (namespaces)': r.hosts,
      'cut proxy': victim,
      'cut.s': secs(tUp - tCut),
      'addresses.replies checked': replies.length,
      'addresses.foreign': leaks.length,
      'addresses.replies naming redis': redisNamed,
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
      'client errors seen':
        Object.entries(r.errors)
          .map(([m, n]) => `${n}× ${m}`)
          .join('; ') || 'none',
      'cut proxy log (warn+)': summarize(r.victimWarnings),
      'other proxies log (warn+)': summarize(r.otherWarnings),
    },
    checks,
  };
}

/** Messages of pino log lines at warn (40) or above. */
export function warnLines(lines: readonly string[]): string[] {
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

export function secs(ms: number): number {
  return Math.round(ms / 100) / 10;
}
