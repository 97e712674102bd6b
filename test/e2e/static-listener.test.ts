import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RespType, encodeCommand } from '@slotrelay/core';
import { keyInSlots, mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';

const run = promisify(execFile);

// The foundation's acceptance: a static listener proxies to its one Redis node, byte for byte.
describe('a static listener in front of one master', () => {
  let fleet: TestFleet;
  let proxyPort: number;
  let slots: Array<[number, number]>;

  beforeAll(async () => {
    const cluster = sharedCluster();
    const masters = await mastersWithSlots(cluster.seeds[0]!);
    fleet = await startFleet({ seeds: cluster.seeds, mappings: 'static', nodes: cluster.nodes });
    const i = cluster.nodes.findIndex((n) => n.port === masters[0]!.port);
    proxyPort = fleet.ports[i]!;
    slots = masters[0]!.slots;
  });
  afterAll(() => fleet?.stop());

  it('serves redis-benchmark -t ping -P 16 to completion', async () => {
    const { stdout } = await run(
      'redis-benchmark',
      ['-h', '127.0.0.1', '-p', String(proxyPort), '-t', 'ping', '-n', '50000', '-P', '16', '-q'],
      { timeout: 60_000 },
    );
    expect(stdout).toMatch(/PING_INLINE: [\d.]+ requests per second/);
    expect(stdout).toMatch(/PING_MBULK: [\d.]+ requests per second/);
  });

  it('round-trips a 20 MB value byte for byte', async () => {
    const raw = await RawClient.connect(proxyPort);
    const key = await keyInSlots(raw, 'static:big', slots);
    raw.close();
    const value = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < value.length; i++) value[i] = (i * 31 + (i >> 13)) & 0xff;
    const r = new Redis({ port: proxyPort, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
    expect(await r.set(key, value)).toBe('OK');
    const back = await r.getBuffer(key);
    expect(back!.length).toBe(value.length);
    expect(back!.equals(value)).toBe(true);
    await r.del(key);
    r.disconnect();
  });

  it('answers malformed input with -ERR Protocol error and closes only that connection', async () => {
    const bystander = await RawClient.connect(proxyPort);
    expect(await bystander.call('PING')).toBe('PONG');
    const bad = await RawClient.connect(proxyPort);
    bad.send('*1\r\nfoo\r\n');
    const reply = await bad.reply();
    expect(reply.type).toBe(RespType.Error);
    expect(reply.text).toBe("ERR Protocol error: expected '$', got 'f'");
    await bad.closedPromise;
    expect(await bystander.call('PING')).toBe('PONG');
    bystander.close();
  });

  it('passes RESP3 after HELLO 3: maps and push frames arrive intact', async () => {
    const c = await RawClient.connect(proxyPort);
    c.send(encodeCommand(['HELLO', '3']));
    expect((await c.reply()).type).toBe(RespType.Map);
    const key = await keyInSlots(c, 'static:hash', slots);
    await c.call('DEL', key);
    await c.call('HSET', key, 'a', '1', 'b', '2');
    c.send(encodeCommand(['HGETALL', key]));
    const map = await c.reply();
    expect(map.type).toBe(RespType.Map);
    expect(map.items!.map((n) => n.data!.toString())).toEqual(['a', '1', 'b', '2']);

    c.send(encodeCommand(['SUBSCRIBE', 'static:news']));
    const confirm = await c.reply();
    expect(confirm.type).toBe(RespType.Push);
    const pub = await RawClient.connect(proxyPort);
    expect(await pub.call('PUBLISH', 'static:news', 'hello')).toBe(1);
    const msg = await c.reply();
    expect(msg.type).toBe(RespType.Push);
    expect(msg.items!.map((n) => n.data!.toString())).toEqual(['message', 'static:news', 'hello']);
    // Commands still work on a RESP3 connection that is subscribed; their replies pair correctly.
    expect(await c.call('PING')).toBe('PONG');
    pub.close();
    c.close();
  });

  it('runs MULTI/EXEC', async () => {
    const c = await RawClient.connect(proxyPort);
    const key = await keyInSlots(c, 'static:tx', slots);
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('SET', key, '1')).toBe('QUEUED');
    expect(await c.call('INCR', key)).toBe('QUEUED');
    expect(await c.call('EXEC')).toEqual(['OK', 2]);
    c.close();
  });

  it('does not cut a BLPOP that blocks for 2 s', async () => {
    const c = await RawClient.connect(proxyPort);
    const key = await keyInSlots(c, 'static:queue', slots);
    await c.call('DEL', key);
    const started = Date.now();
    expect(await c.call('BLPOP', key, '2')).toBeNull(); // the timeout reply, not an error or a close
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900); // it really blocked: nothing cut it short
    expect(await c.call('PING')).toBe('PONG');
    c.close();
  });

  it('does not buffer a 50 MB reply for a client that stopped reading', async () => {
    const c = await RawClient.connect(proxyPort);
    const key = await keyInSlots(c, 'static:huge', slots);
    const w = new Redis({ port: proxyPort, host: '127.0.0.1' });
    await w.set(key, Buffer.alloc(50 * 1024 * 1024, 0x78));
    c.socket.pause();
    c.send(encodeCommand(['GET', key]));
    const listener = [...fleet.fleet.listeners.values()].find((l) => l.info.port === proxyPort)!;
    let maxBuffered = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 25));
      for (const s of listener.sessions) maxBuffered = Math.max(maxBuffered, s.bufferedBytes());
    }
    // Bound: the socket high-water marks and one 64 KiB read plus the hold limit, far below 50 MB.
    expect(maxBuffered).toBeLessThan(4 * 1024 * 1024);
    c.socket.resume();
    const reply = await c.frame(30_000);
    expect(reply.length).toBe(50 * 1024 * 1024 + `$${50 * 1024 * 1024}\r\n`.length + 2);
    await w.del(key);
    w.disconnect();
    c.close();
  });
});
