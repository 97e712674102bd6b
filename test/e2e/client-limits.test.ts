import { readFile, readdir, readlink } from 'node:fs/promises';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';

// Issue 15, limits with Redis's defaults: maxClients per listener (over it, Redis's own error line
// and close), tcpKeepalive on client and Redis sockets, connectTimeoutMs toward Redis. Each is read
// when used, so a config change applies to the next client or dial.

/** A raw client: connected, and answered PING (so the proxy has made its session). */
async function served(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.once('data', (d) => (d.toString() === '+PONG\r\n' ? resolve() : reject(new Error(`got ${d.toString()}`))));
    s.write('PING\r\n');
  });
  return s;
}

/** Everything the proxy sends to a new connection until it closes it. */
function refusal(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}

/** The keepalive timer of this process's established TCP sockets with `port` at one end: [timer kind, ticks left]. */
async function keepaliveTimers(port: number, end: 'local' | 'remote'): Promise<Array<[string, number]>> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`).catch(() => ''));
    if (m) inodes.add(m[1]!);
  }
  const out: Array<[string, number]> = [];
  for (const row of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const f = row.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9]!)) continue;
    const p = parseInt(f[end === 'local' ? 1 : 2]!.split(':')[1]!, 16);
    const [timer, when] = f[5]!.split(':');
    if (p === port) out.push([timer!, parseInt(when!, 16)]);
  }
  return out;
}

describe('limits and timeouts', () => {
  let fleet: TestFleet;
  const open: net.Socket[] = [];
  const name = () => fleet.config.connections[0]!.name;
  const sessions = () => fleet.fleet.listeners.get(name())!.sessions.size;
  const setLimit = (key: string, value: number) =>
    fleet.fleet.patch([{ op: 'add', path: `/connections/0/${key}`, value }], 'file');

  beforeAll(async () => {
    fleet = await startFleet({
      seeds: sharedCluster().seeds.slice(0, 2),
      edit: (c) => Object.assign(c.connections[0]!, { maxClients: 3, tcpKeepalive: 45 }),
    });
  });

  afterAll(async () => {
    for (const s of open) s.destroy();
    await fleet?.stop();
  });

  it('maxClients: the next client gets exactly Redis’s error and is closed; a freed place serves again', async () => {
    const port = fleet.ports[0]!;
    for (let i = 0; i < 3; i++) open.push(await served(port));
    expect(await refusal(port)).toBe('-ERR max number of clients reached\r\n');
    expect(fleet.fleet.listeners.get(name())!.rejectedCount).toBe(1);
    // Another listener has its own count (default 10000).
    open.push(await served(fleet.ports[1]!));

    open.shift()!.destroy();
    await pollUntil('the proxy to let the closed client go', () => sessions() === 2, 10_000, 10);
    open.push(await served(port));
    expect(await refusal(port)).toBe('-ERR max number of clients reached\r\n');
  });

  it('maxClients changes live: raised, the next client is served; lowered, nobody is closed but new ones wait', async () => {
    const port = fleet.ports[0]!;
    expect(await setLimit('maxClients', 4)).toBe(`${name()}.maxClients: 3 -> 4`);
    open.push(await served(port));
    expect(sessions()).toBe(4);
    await setLimit('maxClients', 2);
    expect(sessions()).toBe(4);
    expect(await refusal(port)).toBe('-ERR max number of clients reached\r\n');
  });

  it('tcpKeepalive: client and Redis sockets probe after the configured idle time (read from /proc/net/tcp)', async () => {
    const port = fleet.ports[0]!;
    // The proxy's side of each client connection (this process is the proxy): local port = the listener's.
    // Timer 2 is the keepalive timer (1, retransmit, while a reply is not yet acknowledged: poll);
    // its ticks (USER_HZ, 100/s) never exceed the idle time set, 45 s (the default would be 300 s).
    const allKeepalive = async (p: number, end: 'local' | 'remote') => {
      const timers = await keepaliveTimers(p, end);
      return timers.length > 0 && timers.every(([t]) => t === '02') && timers;
    };
    const client = await pollUntil('client sockets with keepalive', () => allKeepalive(port, 'local'), 5000, 20);
    for (const [, ticks] of client) expect(ticks).toBeLessThanOrEqual(45 * 100);
    const upstream = fleet.fleet.listeners.get(name())!.topology.current!.upstream.port;
    await pollUntil('Redis sockets with keepalive', () => allKeepalive(upstream, 'remote'), 5000, 20);
    // 0 turns it off for new connections, as Redis's tcp-keepalive 0 does.
    await setLimit('tcpKeepalive', 0);
    await setLimit('maxClients', 100);
    const fresh = await served(port);
    open.push(fresh);
    // Every older client socket keeps its timer; only the new one has none.
    await pollUntil(
      'the new client socket without keepalive',
      async () => (await keepaliveTimers(port, 'local')).filter(([t]) => t === '00').length === 1,
      5000,
      20,
    );
  });

  it('connectTimeoutMs: a Redis that never finishes the TLS handshake is given up after the configured time, changed live', async () => {
    const accepted = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      accepted.add(s.on('error', () => {}));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const seed = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const tls = await startFleet({
      seeds: [seed],
      count: 1,
      edit: (c) =>
        Object.assign(c.connections[0]!, {
          serverTls: { enabled: true, trustServerCertificate: true },
          connectTimeoutMs: 150,
        }),
    });
    try {
      const topology = () => tls.fleet.listeners.get(tls.config.connections[0]!.name)!.topology;
      await expect(topology().rescan('test')).rejects.toThrow(/TLS: handshake not finished within 150 ms/);
      await tls.fleet.patch([{ op: 'replace', path: '/connections/0/connectTimeoutMs', value: 250 }], 'file');
      await expect(topology().rescan('test')).rejects.toThrow(/TLS: handshake not finished within 250 ms/);
    } finally {
      await tls.stop();
      for (const s of accepted) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
