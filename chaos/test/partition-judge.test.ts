import { describe, expect, it } from 'vitest';
import { judgePartition, type PartitionRecord, type Tick } from '../src/scenarios/partition-judge.js';

const P = ['198.18.0.11:6391', '198.18.0.12:6391'];
const [VICTIM, OTHER] = P as [string, string];
const T0 = 1_000_000;
const CUT = T0 + 2000;
const UP = CUT + 3000;
const RECOVERED = UP + 1200;

/** 250 ms ticks from T0 to T0 + 10 s; the victim fails from the cut until it is served again. */
function ticks(edit?: (t: Tick) => void): Tick[] {
  const out: Tick[] = [];
  for (let t = T0 + 250; t <= T0 + 10_000; t += 250) {
    const down = t > CUT && t <= RECOVERED;
    const tick: Tick = {
      type: 'tick',
      from: t - 250,
      t,
      groups: {
        [VICTIM]: {
          ok: down ? 0 : 20,
          err: down && t % 1000 === 0 ? 2 : 0,
          okSince: [t > RECOVERED ? RECOVERED : T0 + 10, t > RECOVERED ? RECOVERED - 100 : T0 + 10],
        },
        [OTHER]: { ok: 20, err: 0, okSince: [T0 + 10, T0 + 10] },
      },
    };
    edit?.(tick);
    out.push(tick);
  }
  return out;
}

function record(over: Partial<PartitionRecord> = {}): PartitionRecord {
  const replies = P.flatMap((proxy) => [
    {
      proxy,
      protocol: 2 as const,
      command: 'CLUSTER SLOTS',
      reply: [[0, 16383, ['198.18.0.11', 6391, 'a'], ['198.18.0.12', 6391, 'b']]],
    },
    { proxy, protocol: 2 as const, command: 'GET k', error: 'MOVED 1 198.18.0.11:6391' },
  ]);
  return {
    proxies: P,
    redisIp: '198.18.0.10',
    hosts: 'test',
    before: replies,
    after: replies,
    errors: { 'Command timed out': 6 },
    ticks: ticks(),
    victim: VICTIM,
    tCut: CUT,
    tUp: UP,
    tRecovered: RECOVERED,
    tFresh: UP + 600,
    proxiesAlive: 2,
    victimWarnings: [],
    otherWarnings: [],
    commandTimeoutMs: 1000,
    ...over,
  };
}

const failing = (r: PartitionRecord) =>
  judgePartition(r)
    .checks.filter((c) => !c.pass)
    .map((c) => c.name);

describe('judging a partition run', () => {
  it('a run as expected passes every check, with its figures', () => {
    const o = judgePartition(record());
    expect(failing(record())).toEqual([]);
    expect(o.figures['recovery.all workers s']).toBe(1.2);
    expect(o.figures['recovery.new connection s']).toBe(0.6);
    expect(o.figures['others.errors']).toBe(0);
  });

  it('a Redis address in any reply fails the address check and is counted', () => {
    const leak = {
      proxy: VICTIM,
      protocol: 3 as const,
      command: 'CLUSTER NODES',
      reply: 'a 198.18.0.10:18000@28000 master - 0 0 1 connected 0-16383\n',
    };
    const r = record({ after: [...record().after, leak] });
    expect(failing(r)).toEqual([expect.stringContaining('name only proxy addresses')]);
    expect(judgePartition(r).figures['addresses.replies naming redis']).toBe(1);
  });

  it('an op of the cut slots served while the link is down fails the unreachable check', () => {
    const r = record({ ticks: ticks((t) => t.from >= CUT + 1000 && t.t <= CUT + 1250 && (t.groups[VICTIM]!.ok = 1)) });
    expect(failing(r)).toEqual([expect.stringContaining('unreachable')]);
  });

  it('a late tick that straddles the cut is not counted as served during the cut', () => {
    // Timers ran late: one tick covers 250 ms before the cut and 250 ms after it.
    const late = ticks().filter((t) => t.t !== CUT);
    const i = late.findIndex((t) => t.t === CUT + 250);
    late[i] = {
      ...late[i]!,
      from: CUT - 250,
      groups: { ...late[i]!.groups, [VICTIM]: { ok: 20, err: 0, okSince: [T0 + 10, T0 + 10] } },
    };
    expect(failing(record({ ticks: late }))).toEqual([]);
  });

  it('errors of the other slots beyond the stray allowance fail', () => {
    const r = record({ ticks: ticks((t) => t.t === UP && (t.groups[OTHER]!.err = 20)) });
    expect(failing(r)).toEqual([expect.stringContaining('other slots unaffected')]);
  });

  it('no recovery, or recovery past the bound, fails', () => {
    expect(failing(record({ tRecovered: undefined }))).toEqual([expect.stringContaining('within 15 s of link up')]);
    expect(failing(record({ tFresh: UP + 20_000 }))).toEqual([expect.stringContaining('within 15 s of link up')]);
  });

  it('a proxy process that died fails', () => {
    expect(failing(record({ proxiesAlive: 1 }))).toEqual([expect.stringContaining('still running')]);
  });
});
