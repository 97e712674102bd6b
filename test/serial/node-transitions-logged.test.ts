import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNode, type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { type LogEntry, captureLogger } from '../support/log.js';
import { pollUntil } from '../support/poll.js';

/** Connect, send GET, resolve when the proxy closes the connection (no reply: the node is down). */
function getUntilClosed(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'));
    const got: Buffer[] = [];
    s.on('data', (c) => got.push(c));
    s.on('error', () => {});
    s.once('close', () => resolve(Buffer.concat(got).toString('latin1')));
  });
}

// Issue 15: when a proxy's node died the log said nothing as the connection dropped, then one
// `no upstream for session` line per client reconnect (34 lines in 40 s from two clients). A master of
// a cluster of this file's own is killed while two clients keep reconnecting, fails over, and comes
// back: its proxy logs one unreachable line (with the reason), one reachable line, nothing per
// client; the failover is logged as a role change naming the instance that fronts each node.
describe('a proxy logs its node going down and coming back once, and a failover as role changes', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let victim: ClusterNode;
  let victimProxy: number;
  let victimListener: string;
  const log = captureLogger();
  const of = (name: string) => (e: LogEntry) => e.obj.connection === name;

  beforeAll(async () => {
    cluster = await startCluster({ nodeTimeoutMs: 1000 });
    // Sharing off: the hung-node case counts one dial per session (with sharing, sessions reuse the
    // pool's connections, which the kernel accepted just the same; health is decided by PING alone).
    fleet = await startFleet({
      seeds: cluster.seeds,
      log,
      edit: (c) => {
        c.topologyCheckIntervalMs = 200;
        for (const x of c.connections) x.multiplex = false;
      },
    });
    victim = cluster.masters()[0]!;
    const byId = cluster.nodes.map((n) => n.id).sort();
    const index = byId.indexOf(victim.id);
    victimProxy = fleet.ports[index]!;
    victimListener = `proxy-${index + 1}`;
    await pollUntil('every listener ready', () => fleet.fleet.ops.readiness().every((c) => c.ready));
  });
  afterAll(async () => {
    await fleet?.stop();
    await cluster?.stop();
  });

  it('kill, failover, restart: one unreachable line with the reason, one reachable line, role changes named', async () => {
    const mark = log.entries.length;
    await cluster.killNode(victim);
    // Two clients reconnect again and again through the dead node's proxy: each is closed, unanswered.
    for (let i = 0; i < 10; i++)
      expect(await Promise.all([getUntilClosed(victimProxy), getUntilClosed(victimProxy)])).toEqual(['', '']);
    const replica = cluster.nodes.find((n) => n !== victim && n.role === 'replica' && isReplicaOf(n))!;
    await pollUntil(
      "the victim's replica promoted, as the log says",
      () =>
        log.entries
          .slice(mark)
          .some((e) => e.msg === 'cluster node changed' && e.obj.node === replica.id && role(e, 'to') === 'master'),
      30_000,
    );
    await cluster.restartNode(victim);
    await pollUntil(
      'the victim reachable again',
      () => log.entries.slice(mark).some((e) => of(victimListener)(e) && e.msg === 'Redis node reachable again'),
      30_000,
    );

    const lines = log.entries.slice(mark).filter(of(victimListener));
    const down = lines.filter((e) => e.msg.startsWith('Redis node unreachable'));
    expect(down).toHaveLength(1);
    expect(down[0]!.level).toBe('warn');
    expect(down[0]!.obj).toMatchObject({ redis: `127.0.0.1:${victim.port}`, code: 'ECONNREFUSED' });
    expect(String(down[0]!.obj.reason)).toContain('ECONNREFUSED');
    expect(lines.filter((e) => e.msg === 'Redis node reachable again')).toHaveLength(1);
    expect(lines.filter((e) => e.msg === 'Redis node still unreachable')).toHaveLength(0);
    // Nothing per client: no warning at all about sessions (they are debug), in any listener.
    expect(log.entries.slice(mark).filter((e) => e.level === 'warn' && e.obj.session !== undefined)).toEqual([]);
    expect(log.entries.slice(mark).filter((e) => e.msg === 'no upstream for session')).toEqual([]);

    // The failover, as every listener read it: the replica became master, the old master failed.
    const changes = lines.filter((e) => e.msg === 'cluster node changed');
    const promoted = changes.find((e) => e.obj.node === replica.id && role(e, 'to') === 'master')!;
    expect(promoted.obj).toMatchObject({ change: 'changed', from: { role: 'replica' } });
    expect(String((promoted.obj.to as { proxy: string }).proxy)).toMatch(/^127\.0\.0\.1:\d+ \(instance \d\)$/);
    expect(changes.some((e) => e.obj.node === victim.id && /fail/.test(role(e, 'to')))).toBe(true);
  });

  it('a hung node (SIGSTOP) stays unreachable and not ready while clients connect to it, and shows `fail`', async () => {
    // The kernel still accepts connections for a stopped redis-server: a connect proves nothing.
    const map = () => fleet.fleet.listeners.values().next().value!.topology.current!;
    const byId = cluster.nodes.map((n) => n.id).sort();
    const hung = cluster.nodes.find((n) => n !== victim && map().nodes.find((x) => x.id === n.id)?.role === 'replica')!;
    const listener = `proxy-${byId.indexOf(hung.id) + 1}`;
    const port = fleet.ports[byId.indexOf(hung.id)]!;
    const ready = () => fleet.fleet.ops.readiness().find((c) => c.name === listener)!.ready;
    const dials = () => fleet.fleet.listeners.get(listener)!.counts.upstreamConnects.get(`127.0.0.1:${hung.port}`) ?? 0;
    const mark = log.entries.length;
    process.kill(hung.pid, 'SIGSTOP');
    try {
      await pollUntil(`${listener} not ready`, () => !ready(), 30_000);
      const before = dials();
      const clients = Array.from({ length: 3 }, () =>
        net.connect({ port, host: '127.0.0.1' }, function (this: net.Socket) {
          this.write('*1\r\n$4\r\nPING\r\n');
        }),
      );
      for (const c of clients) c.on('error', () => {});
      // Each session dialed the hung node, and the connect succeeded.
      await pollUntil('three sessions connected to the hung node', () => dials() - before >= 3, 30_000);
      await pollUntil(
        'the hung replica flagged fail in the map STATUSCLUSTER prints',
        () =>
          map()
            .topology!.nodes.find((n) => n.id === hung.id)!
            .flags.includes('fail'),
        30_000,
      );
      for (const c of clients) c.destroy();
      expect(ready()).toBe(false);
      const lines = log.entries.slice(mark).filter(of(listener));
      expect(lines.filter((e) => e.msg === 'Redis node reachable again')).toEqual([]);
      expect(lines.filter((e) => e.msg.startsWith('Redis node unreachable'))).toHaveLength(1);
    } finally {
      process.kill(hung.pid, 'SIGCONT');
    }
    await pollUntil(`${listener} ready again`, ready, 30_000);
  });

  /** Whether `n` replicates the victim (read from a live node's CLUSTER NODES at the start). */
  function isReplicaOf(n: ClusterNode): boolean {
    const map = fleet.fleet.listeners.values().next().value!.topology.current!;
    return map.nodes.find((x) => x.id === n.id)?.masterId === victim.id;
  }
});

function role(e: LogEntry, side: 'from' | 'to'): string {
  return String((e.obj[side] as { role?: string } | undefined)?.role ?? '');
}
