import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RespType, encodeCommand } from '@slotrelay/core/internal';
import { Redis } from 'ioredis';
import { keyInSlots, mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type TestFleet, freePorts, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { outgoingPeerPorts } from '../support/proc-net.js';
import { RawClient } from '../support/raw-client.js';

// Issue 16: sessions share a small pool of Redis connections per node (multiplex, the default).
// What Redis sees, what a slow reader may cost the others, and what 10,000 idle clients cost.

/** A raw client that got its PONG (its session exists and has sent through the pool). */
async function served(port: number, first = 'PING\r\n', answer = '+PONG\r\n'): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    let got = '';
    s.on('data', function onData(d) {
      got += d.toString('latin1');
      if (got.endsWith(answer)) {
        s.off('data', onData);
        resolve();
      }
    });
    s.write(first);
  });
  return s;
}

describe('shared upstream connections', () => {
  let fleet: TestFleet;
  let nodePort: number;
  let blockKey: string;
  const open: net.Socket[] = [];

  beforeAll(async () => {
    const cluster = sharedCluster();
    const node = (await mastersWithSlots(cluster.seeds[0]!))[0]!;
    nodePort = node.port;
    // One listener in front of one master; a pool of 2 per key (the default).
    fleet = await startFleet({ seeds: cluster.seeds, mappings: 'static', nodes: [node] });
    const c = await RawClient.connect(fleet.ports[0]!);
    blockKey = await keyInSlots(c, 'sr:shared:none', node.slots);
    c.close();
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await fleet?.stop();
  });

  /** This process's established connections to the Redis node (the fleet runs in-process). */
  const redisConnections = async () =>
    (await outgoingPeerPorts(process.pid, fleet.ports)).filter((p) => p === nodePort).length;

  it('300 clients over two protocols and 10 pinned sessions: Redis sees pool size × keys + pinned connections', async () => {
    const port = fleet.ports[0]!;
    for (let i = 0; i < 250; i++) open.push(await served(port));
    // RESP3 clients: a second pool key.
    for (let i = 0; i < 50; i++) open.push(await served(port, 'HELLO 3\r\nPING\r\n', '+PONG\r\n'));
    // Ten sessions that block: each moves to a connection of its own first.
    const blockers = await Promise.all(
      Array.from({ length: 10 }, () => served(port, `BLPOP ${blockKey} 0.05\r\n`, '*-1\r\n')),
    );
    open.push(...blockers);
    const listener = fleet.fleet.listeners.values().next().value!;
    const n = await redisConnections();
    // Bound (ARCHITECTURE.md "Multiplexing"): size × keys in use + pinned sessions (+2 slack).
    expect(listener.sharedConnections).toBe(4);
    expect(listener.stats.pinnedSessions).toBe(10);
    expect(n).toBeGreaterThanOrEqual(2 * 2 + 10);
    expect(n).toBeLessThanOrEqual(2 * 2 + 10 + 2);
    // Every shared client is still served.
    for (const s of open.slice(0, 300)) {
      const got = new Promise<string>((r) => s.once('data', (d) => r(d.toString('latin1'))));
      s.write('PING\r\n');
      expect(await got).toBe('+PONG\r\n');
    }
  });

  it('HELLO 3 then READONLY pipelined (ioredis to a replica) move together to one key: no pin', async () => {
    const port = fleet.ports[0]!;
    const listener = fleet.fleet.listeners.values().next().value!;
    const pinned = listener.stats.pinnedSessions;
    const c = await RawClient.connect(port);
    c.send('HELLO 3\r\nREADONLY\r\nPING\r\nREADONLY\r\nHELLO 3\r\n');
    const hello = await c.reply();
    expect(hello.type).toBe(RespType.Map); // a RESP3 map
    expect((await c.reply()).text).toBe('OK');
    expect((await c.reply()).text).toBe('PONG');
    expect((await c.reply()).text).toBe('OK');
    expect((await c.reply()).type).toBe(RespType.Map);
    expect(listener.stats.pinnedSessions).toBe(pinned);
    // READONLY then READWRITE cannot both hold on one key: that chain pins, and still answers right.
    c.send('HELLO 2\r\nREADWRITE\r\nREADONLY\r\nREADWRITE\r\nPING\r\n');
    expect((await c.reply()).type).toBe(RespType.Array); // HELLO 2: an array
    for (const want of ['OK', 'OK', 'OK', 'PONG']) expect((await c.reply()).text).toBe(want);
    expect(listener.stats.pinnedSessions).toBe(pinned + 1);
    c.close();
  });

  it('HELLO … SETNAME names the session, not the shared connection it goes to', async () => {
    const name = `sr-hello-${process.pid}`;
    const c = await RawClient.connect(fleet.ports[0]!);
    const direct = await RawClient.connect(nodePort);
    try {
      c.send(encodeCommand(['HELLO', '3', 'SETNAME', name]));
      expect((await c.reply()).type).toBe(RespType.Map);
      c.send(encodeCommand(['CLIENT', 'GETNAME']));
      expect((await c.reply()).data?.toString()).toBe(name);
      // Redis's own list: no connection of the proxy carries the session's name.
      expect(String(await direct.call('CLIENT', 'LIST'))).not.toContain(`name=${name} `);
      // A name Redis refuses is refused as Redis does, HELLO and all (no protocol change).
      c.send(encodeCommand(['HELLO', '2', 'SETNAME', 'a b']));
      expect((await c.reply()).text).toMatch(/^ERR Client names cannot contain spaces/);
      c.send(encodeCommand(['PING']));
      expect((await c.reply()).text).toBe('PONG');
    } finally {
      c.close();
      direct.close();
    }
  });

  it('a slow reader holds the shared connection at most 2 s while another session waits, then is closed', async () => {
    const cluster = sharedCluster();
    const node = (await mastersWithSlots(cluster.seeds[0]!))[0]!;
    // Pool size 1: both sessions on the one connection.
    const one = await startFleet({
      seeds: cluster.seeds,
      mappings: 'static',
      nodes: [node],
      edit: (c) => (c.connections[0]!.upstreamPool = { size: 1 }),
    });
    try {
      const port = one.ports[0]!;
      const slots = await mastersWithSlots(cluster.seeds[0]!).then((m) => m.find((x) => x.port === node.port)!.slots);
      const w = await RawClient.connect(port);
      const key = await keyInSlots(w, 'sr:shared:slow', slots);
      expect(await w.call('SET', key, Buffer.alloc(16 * 1024 * 1024, 0x61))).toBe('OK');
      const slow = net.connect(port, '127.0.0.1');
      await new Promise((r) => slow.once('connect', r));
      slow.pause(); // never reads: 3 × 16 MB owed to it
      let slowClosed = false;
      slow.on('close', () => (slowClosed = true));
      slow.on('error', () => {});
      slow.write(Buffer.concat([0, 1, 2].map(() => encodeCommand(['GET', key]))));
      await new Promise((r) => setTimeout(r, 200));
      const fast = await RawClient.connect(port);
      const listener = one.fleet.listeners.values().next().value!;
      let maxBuffered = 0;
      const sampler = setInterval(() => {
        for (const s of listener.sessions) maxBuffered = Math.max(maxBuffered, s.bufferedBytes());
      }, 20);
      const started = Date.now();
      expect(await fast.call('PING')).toBe('PONG');
      const waited = Date.now() - started;
      clearInterval(sampler);
      // Figure: the other session waited `waited` ms; bound: the 2 s stall plus scheduling slack.
      console.log(`slow reader: the other session waited ${waited} ms; max buffered per session ${maxBuffered} B`);
      expect(waited).toBeLessThan(2000 + 3000);
      // Memory stays bounded while the connection waits: the socket high-water marks, not 48 MB.
      expect(maxBuffered).toBeLessThan(8 * 1024 * 1024);
      await pollUntil('the slow session closed (limit)', () => (listener.stats.closed.get('limit') ?? 0) >= 1, 10_000);
      slow.resume();
      await pollUntil('the slow client sees its connection closed', () => slowClosed, 10_000);
      // The connection goes on for everyone else.
      expect(await fast.call('PING')).toBe('PONG');
      expect(await w.call('DEL', key)).toBe(1);
      fast.close();
      w.close();
    } finally {
      await one.stop();
    }
  });
});

// 10,000 idle clients on one listener: the proxy runs as its own process (its descriptors and RSS
// are its own), one file descriptor per client, and a normal client is still served.
describe('10,000 idle client sessions on one listener', () => {
  const CLIENTS = 10_000;
  let child: ChildProcess;
  let dir: string;
  let port: number;
  let key: string;
  const clients: net.Socket[] = [];

  beforeAll(async () => {
    const cluster = sharedCluster();
    const node = (await mastersWithSlots(cluster.seeds[0]!))[0]!;
    port = (await freePorts(1))[0]!;
    dir = mkdtempSync(path.join(os.tmpdir(), 'sr-idle-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        connections: [
          {
            name: 'idle',
            type: 'RedisCluster',
            redisServers: [`${node.host}:${node.port}`],
            mappings: 'static',
            clusterMembers: [`${node.host}:${node.port}=127.0.0.1:${port}`],
            localAddress: '127.0.0.1',
            localPort: port,
            maxClients: CLIENTS + 1,
          },
        ],
      }),
    );
    const cli = fileURLToPath(new URL('../../packages/host/dist/cli.js', import.meta.url));
    child = spawn(process.execPath, [cli, '--config', file, '--log-level', 'warn'], { stdio: 'ignore' });
    await pollUntil(
      'the proxy listening',
      async () =>
        await served(port)
          .then((s) => (s.destroy(), true))
          .catch(() => false),
      20_000,
    );
    const c = await RawClient.connect(port);
    key = await keyInSlots(c, 'sr:idle', node.slots);
    c.close();
  });
  afterAll(() => {
    for (const s of clients) s.destroy();
    child?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024;
  const fds = () => readdirSync(`/proc/${child.pid}/fd`).length;

  it('are served with one descriptor each; a normal client still works; the next over maxClients gets Redis error', async () => {
    // The probe client of beforeAll has gone (the proxy counts it until it sees the close).
    await pollUntil('no session left', () => fds() <= 30, 10_000);
    const fdsBefore = fds();
    const rssBefore = rssMb();
    for (let i = 0; i < CLIENTS; i += 500)
      clients.push(...(await Promise.all(Array.from({ length: Math.min(500, CLIENTS - i) }, () => served(port)))));
    const fdsAfter = fds();
    const rssAfter = rssMb();
    console.log(
      `${CLIENTS} idle sessions: RSS ${rssBefore.toFixed(1)} → ${rssAfter.toFixed(1)} MB ` +
        `(${(((rssAfter - rssBefore) * 1024) / CLIENTS).toFixed(1)} KB each); descriptors ${fdsBefore} → ${fdsAfter}`,
    );
    // One descriptor per client: the pool's few Redis connections are the only others.
    expect(fdsAfter - fdsBefore).toBeGreaterThanOrEqual(CLIENTS - 2);
    expect(fdsAfter - fdsBefore).toBeLessThanOrEqual(CLIENTS + 8);
    // Bound as measured: about 15 KB per idle session, 225-240 MB in all on the dev VM (issue 16's
    // target of 100 MB is not met: a bare Node server holding 10,000 sockets is already 86 MB).
    expect(rssAfter).toBeLessThan(350);
    expect(((rssAfter - rssBefore) * 1024) / CLIENTS).toBeLessThan(20);
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
    expect(await r.set(key, 'v')).toBe('OK');
    expect(await r.get(key)).toBe('v');
    await r.del(key);
    // r is client 10,001 (maxClients); one more is refused with Redis's own line.
    const refused = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('error', reject);
      s.on('close', () => resolve(got));
    });
    expect(refused).toBe('-ERR max number of clients reached\r\n');
    r.disconnect();
  });
});

describe('a new mapping under shared sessions', () => {
  /** The key's value (none) or a redirect to a proxy: what a GET through any proxy of the fleet answers. */
  const movedOrNil = (r: { text?: string; data?: Buffer | null }) =>
    r.data === null || /^MOVED \d+ 127\.0\.0\.1:\d+$/.test(r.text ?? '');
  it('closes a session that used the old node, and moves one that has sent nothing yet to the new node', async () => {
    const fleet = await startFleet({ seeds: sharedCluster().seeds });
    const [port] = fleet.ports;
    const fresh = await RawClient.connect(port!);
    const used = await RawClient.connect(port!);
    try {
      // `used` got an answer from Redis through the pool; `fresh`, connected first, is registered too.
      used.send(encodeCommand(['GET', 'sr:shared:remap']));
      expect(movedOrNil(await used.reply())).toBe(true);
      // Proxies 1 and 2 swap nodes (a live config change, as a moved node or an operator makes).
      await fleet.fleet.patch(
        [
          { op: 'replace', path: '/connections/0/instanceId', value: 2 },
          { op: 'replace', path: '/connections/1/instanceId', value: 1 },
        ],
        'file',
      );
      await pollUntil('the session that used the old node to close', () => used.closed, 5000, 25);
      // The fresh one connected an instant before the new map: its first request is served, not dropped.
      fresh.send(encodeCommand(['GET', 'sr:shared:remap']));
      expect(movedOrNil(await fresh.reply())).toBe(true);
      expect(fresh.closed).toBe(false);
    } finally {
      fresh.close();
      used.close();
      await fleet.stop();
    }
  });
});
