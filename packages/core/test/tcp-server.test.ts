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

// tcpServer gives each accepted socket's handle to a new socket that reads with lent reads. The new
// socket must behave as the accepted one would have: its peer's address, FIN (half-close), the
// server's connection count (so `close()` settles), and bytes sent before the session existed.

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A fake Redis answering every request chunk with one `+OK` per `*` it holds. */
async function okRedis(): Promise<number> {
  const server = net.createServer((sock) => {
    sock.on('data', (d: Buffer) => {
      let n = 0;
      for (let i = d.indexOf(0x2a); i >= 0; i = d.indexOf(0x2a, i + 1)) if (i === 0 || d[i - 1] === 0x0a) n++;
      sock.write('+OK\r\n'.repeat(n));
    });
    sock.on('error', () => {});
  });
  closers.push(() => server.close());
  return listen(server);
}

describe('tcpServer: accepted sockets read with lent reads', () => {
  it('hands the listener a socket with its peer address and lent reads', async () => {
    const got: Array<{ socket: Socket; reads: LentReads | undefined }> = [];
    const server = tcpServer()((socket, reads) => got.push({ socket, reads }));
    const port = await listen(server);
    const client = net.connect({ port, host: '127.0.0.1' });
    closers.push(() => client.destroy());
    await once(client, 'connect');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toHaveLength(1);
    expect(got[0]!.reads).toBeDefined();
    expect(got[0]!.socket.remotePort).toBe(client.localPort);
    expect(got[0]!.socket.remoteAddress).toBe('127.0.0.1');
    got[0]!.socket.destroy();
    server.close();
  });

  it('a lent buffer starts at 1 KiB (what an idle session keeps), grows after a read that fills it, shrinks after 64 small reads', async () => {
    const chunks: Buffer[] = [];
    let wake = () => {};
    const server = tcpServer()((socket, reads) => {
      reads!.onRead = (c) => {
        chunks.push(Buffer.from(c));
        wake();
      };
      socket.resume();
    });
    const port = await listen(server);
    const client = net.connect({ port, host: '127.0.0.1' });
    closers.push(
      () => client.destroy(),
      () => server.close(),
    );
    await once(client, 'connect');
    const received = (bytes: number) =>
      new Promise<void>((resolve) => {
        wake = () => chunks.reduce((n, c) => n + c.length, 0) >= bytes && resolve();
        wake();
      });
    const big = Buffer.alloc(20_000, 'x');
    let sent = 0;
    const send = async (b: Buffer) => {
      client.write(b);
      await received((sent += b.length));
    };
    await send(big);
    // The first read filled the 1 KiB buffer; the rest came in reads of up to 64 KiB.
    expect(chunks[0]!.length).toBe(1024);
    expect(Math.max(...chunks.slice(1).map((c) => c.length))).toBeGreaterThan(1024);
    for (let i = 0; i < 64; i++) await send(Buffer.from('*1\r\n$4\r\nPING\r\n'));
    const from = chunks.length;
    await send(big);
    expect(chunks[from]!.length).toBe(1024);
    expect(
      Buffer.concat(chunks).equals(Buffer.concat([big, ...Array(64).fill(Buffer.from('*1\r\n$4\r\nPING\r\n')), big])),
    ).toBe(true);
  });

  it('a client that sends, then half-closes, gets every reply before the close', async () => {
    const redisPort = await okRedis();
    const dial = tcpDialer();
    const server = tcpServer()((client, reads) => {
      const info = { name: 'test', host: '127.0.0.1', port: 0, tls: false };
      new Session(
        client,
        info,
        new Pipeline([]),
        (s) => dial({ host: '127.0.0.1', port: redisPort }, s.upstreamReads),
        silentLogger,
        {},
        reads ?? null,
      ).start();
    });
    closers.push(() => server.close());
    const port = await listen(server);
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    closers.push(() => client.destroy());
    await once(client, 'connect');
    // Sent at once, before the session can have dialed Redis: these wait for the upstream.
    client.end(Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeCommand(['SET', `k${i}`, 'v']))));
    const parts: Buffer[] = [];
    client.on('data', (d: Buffer) => parts.push(d));
    await once(client, 'close');
    expect(Buffer.concat(parts).toString()).toBe('+OK\r\n'.repeat(100));
  });

  it('close() settles once the clients are gone (the emptied accepted sockets count as closed)', async () => {
    const sockets: Socket[] = [];
    const server = tcpServer()((socket) => sockets.push(socket));
    const port = await listen(server);
    const clients = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = net.connect({ port, host: '127.0.0.1' });
        await once(c, 'connect');
        return c;
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets).toHaveLength(3);
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    for (const c of clients) c.destroy();
    await expect(
      Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 2000))]),
    ).resolves.toBe('closed');
  });
});
