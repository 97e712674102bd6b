import { afterAll, beforeAll, describe, it } from 'vitest';
import { type LocalCluster, keySlot, startCluster } from '@slotrelay/local-cluster';
import type { RawClient } from '../support/raw-client.js';
import { mastersWithSlots } from '../support/cluster.js';
import { inSlots } from '../support/differential/keys.js';
import { suiteSeed } from '../support/differential/prng.js';
import { type Targets, type WorkloadRun, expectIdentical, startTargets } from '../support/differential/runner.js';
import { req } from '../support/differential/script-client.js';

// Issue 16, item 3: the differential suite's MOVED/ASK workload. A scripted migration of one slot
// (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE of half its keys, then SETSLOT NODE) runs against
// Redis itself and the two fleets (multiplex off and on), and every client's replies must match
// Redis's once redirect addresses are mapped back to the node they name. Slot ownership changes,
// so this runs on a cluster of its own (three masters, no replicas), put back as it was before
// each target.
describe('differential: MOVED and ASK during a scripted slot migration', () => {
  const seed = suiteSeed();
  const tag = '{diffmig}';
  const keys = Array.from({ length: 10 }, (_, i) => `${tag}:${i}`);
  const slot = keySlot(tag);
  let cluster: LocalCluster;
  let targets: Targets;
  let src: { port: number; id: string };
  let dst: { port: number; id: string };
  let masters: Array<{ port: number; id: string }>;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
    masters = cluster.masters().map((n) => ({ port: n.port, id: n.id }));
    const owner = await ownerOf(masters[0]!.port);
    src = masters.find((m) => m.port === owner)!;
    dst = masters.find((m) => m.port !== owner)!;
    targets = await startTargets(cluster.seeds.slice(0, 1), cluster.nodes);
  });
  afterAll(async () => {
    await targets?.stop();
    await cluster?.stop();
  });

  /** The master that `port` says owns the slot (its CLUSTER SLOTS). */
  async function ownerOf(port: number): Promise<number> {
    const owner = (await mastersWithSlots(`127.0.0.1:${port}`)).find((m) => inSlots(slot, m.slots));
    if (!owner) throw new Error(`no owner of slot ${slot}`);
    return owner.port;
  }

  const setslot = (a: RawClient, ...args: string[]) => a.call('CLUSTER', 'SETSLOT', String(slot), ...args);

  /** Put the slot back on `src`, stable, with the keys `v0`…`v9` there (whatever state a run left). */
  async function reset(run: WorkloadRun) {
    const admins = new Map<number, RawClient>();
    for (const m of masters) admins.set(m.port, await run.admin(m.port));
    for (const m of masters) await setslot(admins.get(m.port)!, 'STABLE');
    const owner = await ownerOf(src.port);
    if (owner !== src.port) {
      const from = masters.find((m) => m.port === owner)!;
      await setslot(admins.get(src.port)!, 'IMPORTING', from.id);
      await setslot(admins.get(from.port)!, 'MIGRATING', src.id);
      const left = (await admins.get(from.port)!.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
      if (left.length)
        await admins.get(from.port)!.call('MIGRATE', '127.0.0.1', src.port, '', 0, 5000, 'KEYS', ...left);
      for (const m of masters) await setslot(admins.get(m.port)!, 'NODE', src.id);
    }
    const a = admins.get(src.port)!;
    for (const [i, k] of keys.entries()) await a.call('SET', k, `v${i}`);
    await a.call('DEL', `${tag}:new`);
  }

  it('ASK while the slot migrates (then ASKING on the target, also before a command that pins), MOVED without ASKING and once it moved, TRYAGAIN, EXECABORT', async () => {
    await expectIdentical(
      {
        name: 'migration',
        reset,
        cleanup: reset,
        async run(run) {
          const s = await run.admin(src.port);
          const d = await run.admin(dst.port);
          const atSrc = await run.client('at-source', src.port);
          const atDst = await run.client('at-target', dst.port);
          const atSrc3 = await run.client('at-source-resp3', src.port);
          await atSrc3.run([req(['HELLO', '3'], { mask: 'hello' })]);
          await atSrc.run([req(['GET', keys[0]!]), req(['CLUSTER', 'COUNTKEYSINSLOT', slot])]);

          // Migrating: half the keys move to dst.
          await setslot(d, 'IMPORTING', src.id);
          await setslot(s, 'MIGRATING', dst.id);
          await s.call('MIGRATE', '127.0.0.1', dst.port, '', 0, 5000, 'KEYS', ...keys.slice(0, 5));
          const atSource = [
            req(['GET', keys[0]!]),
            req(['GET', keys[7]!]),
            req(['SET', `${tag}:new`, 'x']),
            req(['MGET', keys[0]!, keys[7]!]),
            req(['MGET', keys[7]!, keys[8]!]),
            req(['MULTI']),
            req(['GET', keys[1]!]),
            req(['EXEC']),
          ];
          await atSrc.run(atSource, 'bytes');
          await atSrc3.run(atSource, { random: 10 });
          await atDst.run(
            [
              req(['GET', keys[0]!]),
              req(['ASKING']),
              req(['GET', keys[0]!]),
              req(['GET', keys[1]!]),
              req(['ASKING']),
              req(['MGET', keys[0]!, keys[1]!]),
              req(['ASKING']),
              req(['SET', `${tag}:new`, 'y']),
            ],
            'bytes',
          );
          // ASKING then a command that pins the session (a blocking one): it holds on the pinned
          // connection too, so the command runs on the importing node (times out) instead of MOVED.
          const atDstPin = await run.client('at-target-pinning', dst.port);
          await atDstPin.run([req(['ASKING']), req(['BLPOP', `${tag}:list`, '0.1']), req(['GET', keys[0]!])]);

          // Done: the rest moves, and every master is told dst owns the slot.
          await s.call('MIGRATE', '127.0.0.1', dst.port, '', 0, 5000, 'KEYS', ...keys.slice(5));
          for (const m of masters) await setslot(await run.admin(m.port), 'NODE', dst.id);
          await atSrc.run(
            [req(['GET', keys[7]!]), req(['MULTI']), req(['SET', keys[7]!, 'z']), req(['EXEC'])],
            'bytes',
          );
          await atSrc3.run([req(['GET', keys[7]!]), req(['SPUBLISH', tag, 'm'])]);
          await atDst.run([req(['GET', keys[7]!]), req(['MGET', keys[0]!, keys[9]!]), req(['GET', `${tag}:new`])]);
        },
      },
      targets.all,
      seed,
    );
  });
});
