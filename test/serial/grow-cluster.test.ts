import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { type ClusterNode, type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { type RedisNodeLine, expectedStatusCluster, redisNodes } from '../support/admin.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { portsIn, redisCli, splitRedirects } from '../support/redis-cli.js';
import { captureLogger } from '../../packages/transport-tls/test/helpers.js';

// Gallium Data: "It's OK to have more [instances], but the extra instances will not be used unless
// you grow the Redis cluster." A fleet of 8 in front of 6 nodes; a master/replica pair joins and
// takes slots (with keys) — and no admin command is sent: the periodic check (default 5 s) and
// redirects to unknown nodes must make the fleet map the new nodes by itself, and clients recover.

type Strategy = 'sorted' | 'address';
const MEMBERS = 8;
const KEYS = 2000;

describe('growing the cluster under fleets with spare members (no admin command)', () => {
  let cluster: LocalCluster;
  const fleets = {} as Record<Strategy, TestFleet>;
  /** No periodic checks: told of the growth by a redirect (`redirect`) or by a client on a spare (`spare`). */
  const quiet = {} as Record<'redirect' | 'spare', TestFleet>;
  const logs = { sorted: captureLogger(), address: captureLogger() };
  let seedPort: number;
  let before: RedisNodeLine[];
  let newMaster: ClusterNode;
  let newReplica: ClusterNode;
  let redisPorts: number[];
  const keys = Array.from({ length: KEYS }, (_, i) => `grow:${i}`);

  /** Node order of a strategy (what instance k + 1 fronts is order[k]). */
  const order = (nodes: RedisNodeLine[], s: Strategy) =>
    [...nodes]
      .sort(s === 'address' ? (a, b) => a.port - b.port || (a.id < b.id ? -1 : 1) : (a, b) => (a.id < b.id ? -1 : 1))
      .map((n) => n.id);

  const status = async (port: number) =>
    (await redisCli(['-p', String(port), 'GALLIUMDATA', 'STATUSCLUSTER'])).join('\n');

  beforeAll(async () => {
    cluster = await startCluster();
    seedPort = cluster.nodes[0]!.port;
    for (const s of ['sorted', 'address'] as const) {
      fleets[s] = await startFleet({
        seeds: cluster.seeds.slice(0, 2),
        count: MEMBERS,
        log: logs[s],
        edit: (c) => c.connections.forEach((x) => (x.mappingStrategy = s)),
      });
    }
    // No periodic check at all: only what happens on the data path can tell it the cluster grew.
    for (const q of ['redirect', 'spare'] as const) {
      quiet[q] = await startFleet({
        seeds: cluster.seeds.slice(0, 2),
        count: MEMBERS,
        edit: (c) => (c.topologyCheckIntervalMs = 0),
      });
    }
    before = await redisNodes(seedPort);
  });

  afterAll(async () => {
    await Promise.all([...Object.values(fleets), ...Object.values(quiet)].map((f) => f.stop()));
    await cluster?.stop();
  });

  it('before: six rows, and the spare proxies say they front no node', async () => {
    for (const s of ['sorted', 'address'] as const) {
      const f = fleets[s];
      for (const [k, port] of f.ports.entries()) {
        const { rows } = expectedStatusCluster(before, f.ports, k, { seed: seedPort, order: s });
        const lines = (await status(port)).split('\n');
        expect(lines.slice(0, -1), `${s} proxy ${k + 1}`).toEqual(rows);
        if (k >= 6)
          expect(lines).toContain(
            `This proxy (instance ${k + 1}) fronts no Redis node: the cluster has 6 nodes, clusterMembers lists 8`,
          );
      }
    }
    for (const q of Object.values(quiet)) {
      for (const [k, port] of q.ports.entries()) {
        expect((await status(port)).split('\n').slice(0, -1)).toEqual(
          expectedStatusCluster(before, q.ports, k, { seed: seedPort }).rows,
        );
      }
    }
    const spare = await RawClient.connect(fleets.sorted.ports[7]!);
    try {
      spare.send('GET x\r\n');
      const r = await spare.reply();
      expect(r.text).toMatch(/this proxy \(instance 8\) has no Redis node to front: the cluster has 6 nodes/);
    } finally {
      spare.close();
    }
  });

  it('a new master/replica pair joins and takes slots with keys: the fleets map it by themselves and clients follow', async () => {
    const clients = {
      sorted: new Cluster([{ host: '127.0.0.1', port: fleets.sorted.ports[0]! }]),
      address: new Cluster([{ host: '127.0.0.1', port: fleets.address.ports[3]! }]),
    };
    // Sessions open on every active proxy, to see what a remap does to them.
    const sessions = {} as Record<Strategy, RawClient[]>;
    const load = { stop: false, ops: 0, errors: [] as string[] };
    let loop: Promise<void> | undefined;
    try {
      for (const s of ['sorted', 'address'] as const) {
        expect(await Promise.all(keys.map((k, i) => clients[s].set(`${k}:${s}`, `v${i}`)))).toEqual(
          keys.map(() => 'OK'),
        );
        sessions[s] = await Promise.all(fleets[s].ports.slice(0, 6).map((p) => RawClient.connect(p)));
        for (const c of sessions[s]) expect(await c.call('PING')).toBe('PONG');
      }

      // A client working all along (bounded: stops when asked or after 200,000 operations).
      loop = (async () => {
        for (let i = 0; !load.stop && i < 200_000; i++) {
          const k = `${keys[i % KEYS]}:sorted`;
          try {
            const v = await clients.sorted.get(k);
            if (v !== `v${i % KEYS}`) load.errors.push(`GET ${k} -> ${v}`);
            load.ops++;
          } catch (e) {
            load.errors.push((e as Error).message);
          }
        }
      })();

      // The new master's ID sorts before every other: with sorted IDs, every instance moves up one.
      // Redis draws a node's ID at its first start and keeps it in nodes.conf: the test writes one
      // there that starts with ten zeros, and the node comes back with it.
      newMaster = await cluster.addNode();
      const minId = before.map((n) => n.id).sort()[0]!;
      await cluster.killNode(newMaster);
      const conf = join(newMaster.dir, 'nodes.conf');
      const lowId = `0000000000${newMaster.id.slice(10)}`;
      writeFileSync(conf, readFileSync(conf, 'utf8').replaceAll(newMaster.id, lowId));
      await cluster.restartNode(newMaster);
      newMaster.id = (await cluster.cli(newMaster, 'CLUSTER', 'MYID')).trim();
      expect(newMaster.id).toBe(lowId);
      expect(newMaster.id < minId).toBe(true);
      newReplica = await cluster.addNode();
      for (const n of [newMaster, newReplica]) await cluster.cli(n, 'CLUSTER', 'MEET', '127.0.0.1', String(seedPort));
      await pollUntil(
        'all 8 nodes to know each other',
        async () => {
          for (const n of cluster.nodes) {
            const known = (await redisNodes(n.port)).filter((l) => !l.flags.includes('handshake'));
            if (known.length < 8) return false;
          }
          return true;
        },
        20_000,
      );
      await cluster.cli(newReplica, 'CLUSTER', 'REPLICATE', newMaster.id);
      await cluster.waitHealthy();
      // Move 300 slots (and their keys) from the first master to the new one, with Redis's own tool.
      const source = (await redisNodes(seedPort)).find(
        (n) => n.role === 'master' && n.slots.length > 0 && n.id !== newMaster.id,
      )!;
      await cluster.cli(
        0,
        '--cluster',
        'reshard',
        `127.0.0.1:${seedPort}`,
        '--cluster-from',
        source.id,
        '--cluster-to',
        newMaster.id,
        '--cluster-slots',
        '300',
        '--cluster-yes',
      );
      await cluster.waitHealthy();
      const after = await redisNodes(seedPort);
      expect(after).toHaveLength(8);
      const moved = after.find((n) => n.id === newMaster.id)!.slots;
      expect(moved.reduce((sum, [lo, hi]) => sum + hi - lo + 1, 0)).toBe(300);
      redisPorts = cluster.nodes.map((n) => n.port);

      // Within a bounded time every proxy of both fleets lists the 8 nodes, exactly.
      for (const s of ['sorted', 'address'] as const) {
        const f = fleets[s];
        await pollUntil(
          `every ${s} proxy to map the 8 nodes`,
          async () => {
            for (const [k, port] of f.ports.entries()) {
              const { rows } = expectedStatusCluster(after, f.ports, k, { seed: seedPort, order: s });
              const lines = (await status(port)).split('\n');
              if (JSON.stringify(lines.slice(0, -1)) !== JSON.stringify(rows)) return false;
            }
            return true;
          },
          20_000,
          250,
        );
      }

      // Sessions whose instance now fronts another node were closed (their clients reconnect);
      // the others are untouched.
      for (const s of ['sorted', 'address'] as const) {
        const was = order(before, s);
        const now = order(after, s);
        const remapped = was.map((id, k) => id !== now[k]);
        if (s === 'sorted') expect(remapped).toEqual([true, true, true, true, true, true]);
        for (const [k, c] of sessions[s].entries()) {
          if (remapped[k]) await pollUntil(`${s} session ${k + 1} closed`, () => c.closed, 5000, 25);
          else expect(await c.call('PING'), `${s} session ${k + 1}`).toBe('PONG');
        }
        const closing = logs[s]
          .at('info')
          .filter((e) => e.msg === 'mapping changed: closing session so its client reconnects');
        expect(closing.length).toBeGreaterThanOrEqual(remapped.filter(Boolean).length);
      }

      // The working client recovered by itself: its last operations succeed.
      const opsBefore = load.ops;
      await pollUntil('the background client to make progress', () => load.ops >= opsBefore + 200, 20_000, 50);
      load.stop = true;
      await loop;
      console.log(
        `background client during growth: ${load.ops} GETs, ${load.errors.length} errors`,
        [...new Set(load.errors)].slice(0, 5),
      );
      for (const e of load.errors) for (const p of redisPorts) expect(e).not.toMatch(new RegExp(`:${p}\\b`));
      // Remapped sessions close, the client reconnects and retries: at most a stray error or two.
      expect(load.errors.length).toBeLessThanOrEqual(3);

      // Keys in the moved slots: read and written through the fleets, stored on the new master.
      const probe = await RawClient.connect(newMaster.port);
      const movedKeys: string[] = [];
      for (let i = 0; movedKeys.length < 20 && i < 20_000; i++) {
        // A hash tag: `<key>:sorted` and `<key>:address` live in the slot of `<key>`.
        const slot = (await probe.call('CLUSTER', 'KEYSLOT', `{grow:new:${i}}`)) as number;
        if (moved.some(([lo, hi]) => slot >= lo && slot <= hi)) movedKeys.push(`{grow:new:${i}}`);
      }
      for (const s of ['sorted', 'address'] as const) {
        const c = clients[s];
        expect(await Promise.all(keys.map((k) => c.get(`${k}:${s}`)))).toEqual(keys.map((_, i) => `v${i}`));
        expect(await Promise.all(movedKeys.map((k) => c.set(`${k}:${s}`, s)))).toEqual(movedKeys.map(() => 'OK'));
        expect(await Promise.all(movedKeys.map((k) => c.get(`${k}:${s}`)))).toEqual(movedKeys.map(() => s));
        await c.refreshSlotsCache();
        const seen = c.nodes('all').map((n) => n.options.port!);
        for (const p of seen) expect(fleets[s].ports, `${s}: ioredis knows port ${p}`).toContain(p);
        expect(c.nodes('master')).toHaveLength(4);
      }
      for (const k of movedKeys) expect(await probe.call('GET', `${k}:sorted`)).toBe('sorted');
      // Keys that were there before the reshard moved with their slots and are read through the fleet.
      expect(Number(await probe.call('DBSIZE'))).toBeGreaterThan(movedKeys.length * 2);
      probe.close();

      // Without periodic checks: one proxy learns of the new master — from a redirect naming it, or
      // from a client on a spare proxy — and the other listeners of its process follow at once.
      const [movedKey] = movedKeys;
      const quietMapsAll = (q: TestFleet) =>
        pollUntil(
          'every quiet proxy to map the 8 nodes',
          async () => {
            for (const [k, port] of q.ports.entries()) {
              const lines = (await status(port)).split('\n');
              if (
                JSON.stringify(lines.slice(0, -1)) !==
                JSON.stringify(expectedStatusCluster(after, q.ports, k, { seed: seedPort }).rows)
              )
                return false;
            }
            return true;
          },
          3000,
          100,
        );
      /** GET the moved key through `port`: the value or a redirect to a proxy of `q`. */
      const getMoved = async (q: TestFleet, port: number) => {
        const c = await RawClient.connect(port);
        try {
          c.send(`GET ${movedKey}:sorted\r\n`);
          const r = await c.reply();
          if (r.text) expect(r.text).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:(${q.ports.join('|')})$`));
          else expect(r.data?.toString()).toBe('sorted');
        } finally {
          c.close();
        }
      };
      for (const q of Object.values(quiet)) {
        // (Not asked of the spares: a client on a spare makes it look again — that would tell them.)
        for (const [k, port] of q.ports.slice(0, 6).entries()) {
          expect((await status(port)).split('\n').slice(0, -1), `quiet proxy ${k + 1} before`).toEqual(
            expectedStatusCluster(before, q.ports, k, { seed: seedPort }).rows,
          );
        }
      }
      for (const port of quiet.redirect.ports.slice(0, 6)) await getMoved(quiet.redirect, port);
      await quietMapsAll(quiet.redirect);
      // A spare that gets a client looks again before refusing: it now fronts a node and serves.
      await getMoved(quiet.spare, quiet.spare.ports[7]!);
      await quietMapsAll(quiet.spare);

      // redis-cli -c through a proxy that does not front the new master: redirected to the one that does.
      const f = fleets.sorted;
      const frontsNew = f.ports[order(after, 'sorted').indexOf(newMaster.id)]!;
      const entry = f.ports.find((p) => p !== frontsNew)!;
      const out = splitRedirects(
        await redisCli(['-c', '-p', String(entry)], movedKeys.map((k) => `GET ${k}:sorted`).join('\n')),
      );
      expect(out.replies).toEqual(movedKeys.map(() => 'sorted'));
      expect(out.redirectPorts).toContain(frontsNew);
      for (const p of out.redirectPorts) expect(f.ports).toContain(p);
      const nodes = (await redisCli(['-p', String(f.ports[7]), 'CLUSTER', 'NODES'])).join('\n');
      expect(nodes.split('\n')).toHaveLength(8);
      for (const p of portsIn(nodes.replace(/@\d+/g, ''))) expect(f.ports).toContain(p);
    } finally {
      load.stop = true;
      await loop;
      for (const list of Object.values(sessions)) list.forEach((c) => c.close());
      clients.sorted.disconnect();
      clients.address.disconnect();
    }
  });
});
