import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type LentReads,
  Pipeline,
  Session,
  encodeCommand,
  silentLogger,
  tcpDialer,
  tcpServer,
} from '@slotrelay/core/internal';

// Both sockets of a session read into a buffer that the next read reuses (Node's `onread`), so a
// chunk the other socket did not take at once, or one the general path keeps, must not be
// overwritten by the next read. These tests push megabytes through a real session on loopback
// while the receiving side does not read, so the kernel buffers fill and writes stay queued in Node.

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/**
 * A fake Redis that, once it has read `requestBytes`, writes `pieces`, one per turn of the event
 * loop, so that while the proxy keeps up each piece is one read.
 */
async function fakeRedis(requestBytes: number, pieces: Buffer[]): Promise<number> {
  const server = net.createServer((sock) => {
    let got = 0;
    sock.on('data', async (d: Buffer) => {
      got += d.length;
      if (got !== requestBytes) return;
      for (const p of pieces) {
        if (!sock.write(p)) await once(sock, 'drain');
        else await new Promise((r) => setImmediate(r));
      }
    });
    sock.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

/** A session on a real listener in front of the fake Redis, dialed with lent reads; returns its port. */
async function proxy(redisPort: number): Promise<number> {
  const dial = tcpDialer();
  const pipeline = new Pipeline([]);
  const sockets: Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    sockets.push(client);
    const info = { name: 'test', host: '127.0.0.1', port: 0, tls: false };
    new Session(
      client,
      info,
      pipeline,
      (s) => dial({ host: '127.0.0.1', port: redisPort }, s.upstreamReads),
      silentLogger,
    ).start();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** Send `requests`, wait `pauseMs` without reading, then read until `expected` bytes came back. */
async function exchange(port: number, requests: Buffer, expected: number, pauseMs: number): Promise<Buffer> {
  const client = net.connect({ port, host: '127.0.0.1' });
  closers.push(() => client.destroy());
  await once(client, 'connect');
  client.pause();
  client.write(requests);
  await new Promise((r) => setTimeout(r, pauseMs));
  const parts: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve, reject) => {
    client.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= expected) resolve();
    });
    client.on('error', reject);
    client.on('close', () => resolve());
  });
  client.resume();
  await done;
  return Buffer.concat(parts);
}

/** `n` bulk replies, each with its own bytes, sizes cycling through `sizes`. */
function bulkReplies(n: number, sizes: number[], extra: (i: number) => string | null = () => null): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const special = extra(i);
    if (special !== null) {
      out.push(Buffer.from(special));
      continue;
    }
    const size = sizes[i % sizes.length]!;
    const v = Buffer.alloc(size, `${i}:`.padEnd(12, String.fromCharCode(97 + (i % 26))));
    out.push(Buffer.concat([Buffer.from(`$${size}\r\n`), v, Buffer.from('\r\n')]));
  }
  return out;
}

/** Whole frames grouped into pieces of about `bytes`. */
function groups(frames: Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] = [];
  let size = 0;
  for (const f of frames) {
    cur.push(f);
    size += f.length;
    if (size >= bytes) {
      out.push(Buffer.concat(cur));
      cur = [];
      size = 0;
    }
  }
  if (cur.length > 0) out.push(Buffer.concat(cur));
  return out;
}

/** `bytes` cut into pieces of `size`, frame boundaries or not. */
function cut(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

/** A fake Redis that reads nothing for `pauseMs`, then everything; resolves with the first `bytes` it got. */
async function stalledRedis(bytes: number, pauseMs: number): Promise<{ port: number; received: Promise<Buffer> }> {
  let deliver!: (b: Buffer) => void;
  const received = new Promise<Buffer>((r) => (deliver = r));
  const server = net.createServer((sock) => {
    sock.pause();
    const parts: Buffer[] = [];
    let got = 0;
    sock.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= bytes) deliver(Buffer.concat(parts));
    });
    sock.on('error', () => {});
    setTimeout(() => sock.resume(), pauseMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, received };
}

/** A session behind slotrelay's own TCP server (client reads lent too); returns its port. */
async function lentProxy(redisPort: number): Promise<number> {
  const dial = tcpDialer();
  const pipeline = new Pipeline([]);
  const sockets: Socket[] = [];
  const lent: Array<LentReads | undefined> = [];
  const server = tcpServer()((client, reads) => {
    sockets.push(client);
    lent.push(reads);
    const info = { name: 'test', host: '127.0.0.1', port: 0, tls: false };
    new Session(
      client,
      info,
      pipeline,
      (s) => dial({ host: '127.0.0.1', port: redisPort }, s.upstreamReads),
      silentLogger,
      {},
      reads ?? null,
    ).start();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    // Every client socket read with lent reads (else these tests would prove nothing about them).
    expect(lent.every((r) => r !== undefined)).toBe(true);
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** Write `pieces`, one per turn of the event loop (so while the proxy keeps up each piece is one read). */
async function sendPieces(port: number, pieces: Buffer[]): Promise<void> {
  const client = net.connect({ port, host: '127.0.0.1' });
  closers.push(() => client.destroy());
  client.on('error', () => {});
  await once(client, 'connect');
  for (const p of pieces) {
    if (!client.write(p)) await once(client, 'drain');
    else await new Promise((r) => setImmediate(r));
  }
}

/** Sends `pieces` through a lent-reads proxy to a Redis stalled for `pauseMs`; what that Redis got. */
async function throughStalledRedis(pieces: Buffer[], bytes: number, pauseMs: number): Promise<Buffer> {
  const redis = await stalledRedis(bytes, pauseMs);
  await sendPieces(await lentProxy(redis.port), pieces);
  return redis.received;
}

describe('session: requests read into a lent buffer', () => {
  it('12 MB of whole requests, each read taking the lane, reach a Redis that was not reading, byte for byte', async () => {
    const n = 6000;
    const sizes = [10, 4000, 1900, 700, 3500];
    const frames = Array.from({ length: n }, (_, i) =>
      encodeCommand(['SET', `k${i}`, Buffer.alloc(sizes[i % sizes.length]!, `${i}:`.padEnd(12, 'xyz'))]),
    );
    const requests = Buffer.concat(frames);
    const got = await throughStalledRedis(groups(frames, 6000), requests.length, 400);
    expect(got.length).toBe(requests.length);
    expect(got.equals(requests)).toBe(true);
  });

  it('requests that take the general path (MULTI, inline commands, values larger than a read) are not overwritten', async () => {
    const n = 3000;
    const frames = Array.from({ length: n }, (_, i) =>
      i % 13 === 4
        ? Buffer.from('MULTI\r\n')
        : i % 13 === 5
          ? encodeCommand(['EXEC'])
          : i % 9 === 2
            ? Buffer.from(`PING inline${i}\r\n`)
            : encodeCommand([
                'SET',
                `k${i}`,
                Buffer.alloc([5, 200_000, 64, 90_000, 1][i % 5]!, `${i}:`.padEnd(10, 'q')),
              ]),
    );
    const requests = Buffer.concat(frames);
    const got = await throughStalledRedis(cut(requests, 7_000), requests.length, 300);
    expect(got.length).toBe(requests.length);
    expect(got.equals(requests)).toBe(true);
  });
});

describe('session: replies read into a lent buffer', () => {
  it('12 MB of whole replies, each read taking the lane, reach a client that was not reading, byte for byte', async () => {
    // Pieces of whole frames under the client socket's 16 KB high-water mark: once the kernel
    // buffers are full, writes of the lane stay queued in Node while reads go on.
    const n = 6000;
    const requests = Buffer.concat(Array.from({ length: n }, (_, i) => encodeCommand(['GET', `k${i}`])));
    const frames = bulkReplies(n, [10, 4000, 1900, 700, 3500]);
    const replies = Buffer.concat(frames);
    const port = await proxy(await fakeRedis(requests.length, groups(frames, 6000)));
    const got = await exchange(port, requests, replies.length, 400);
    expect(got.length).toBe(replies.length);
    expect(got.equals(replies)).toBe(true);
  });

  it('replies that take the general path (errors, nulls, values larger than a read) are not overwritten', async () => {
    const n = 3000;
    const requests = Buffer.concat(Array.from({ length: n }, (_, i) => encodeCommand(['GET', `k${i}`])));
    const replies = Buffer.concat(
      bulkReplies(n, [5, 200_000, 64, 90_000, 1], (i) =>
        i % 7 === 3 ? `-ERR no such thing ${i}\r\n` : i % 11 === 5 ? '$-1\r\n' : null,
      ),
    );
    const port = await proxy(await fakeRedis(requests.length, cut(replies, 7_000)));
    const got = await exchange(port, requests, replies.length, 300);
    expect(got.length).toBe(replies.length);
    expect(got.equals(replies)).toBe(true);
  });
});
