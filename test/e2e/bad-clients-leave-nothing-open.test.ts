import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type LocalCluster } from '@slotrelay/local-cluster';
import { Redis } from 'ioredis';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { socketFds } from '../support/proc-net.js';
import { RawClient } from '../support/raw-client.js';

// Issue 13: a connection that broke the protocol stayed open inside the proxy (its client socket
// paused, so the client's FIN was never read; Redis only half-closed): 100 bad connections = +100
// fds on the proxy and +100 clients on Redis, whatever the client did. The proxy runs in this
// process, in front of a one-node cluster of this file's own, so both counts are exact.
describe('clients that break the protocol leave nothing open', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let proxyPort: number;
  let redisPort: number;
  let info: RawClient;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 1, replicasPerMaster: 0 });
    const node = cluster.nodes[0]!;
    redisPort = node.port;
    fleet = await startFleet({ seeds: cluster.seeds, mappings: 'static', nodes: [node] });
    proxyPort = fleet.ports[0]!;
    info = await RawClient.connect(redisPort);
    // The shared pool's connections (2, opened one per session until it is full) stay open by
    // design: open them before any baseline is taken, so what is counted is what bad clients leave.
    for (let i = 0; i < 2; i++) {
      const warm = await RawClient.connect(proxyPort);
      expect(await warm.call('PING')).toBe('PONG');
      warm.close();
    }
  });
  afterAll(async () => {
    info?.close();
    await fleet?.stop();
    await cluster?.stop();
  });

  const connectedClients = async () =>
    Number(/connected_clients:(\d+)/.exec(String(await info.call('INFO', 'clients')))![1]);
  /** The test's own client sockets still open (the ones that never read stay open on our side). */
  const clients = new Set<net.Socket>();
  /** Socket fds of this process that are not the test's clients: the proxy's, once it is in step. */
  const proxySockets = async () => (await socketFds(process.pid)) - [...clients].filter((c) => !c.destroyed).length;

  // Multibulk errors the proxy finds, and an inline one only Redis finds (SET is not watched: Redis
  // answers "unbalanced quotes" and closes, and the proxy must add nothing after that answer).
  const BAD: Array<[string, string]> = [
    ['*1\r\n$x\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*1\r\n$99999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*1\r\nfoo\r\n', "-ERR Protocol error: expected '$', got 'f'\r\n"],
    ['set "a b\r\nGET k\r\nGET k\r\nGET k\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
  ];

  /** One bad connection behaving as `kind`; resolves with what it read (for the kinds that read). */
  function badClient(
    kind: 'reads-and-closes' | 'closes-at-once' | 'never-reads' | 'keeps-sending',
    i: number,
  ): Promise<{ got: string; socket: net.Socket }> {
    const [bad] = BAD[i % BAD.length]!;
    return new Promise((resolve, reject) => {
      const s = net.connect({ port: proxyPort, host: '127.0.0.1' });
      clients.add(s);
      const got: Buffer[] = [];
      s.on('error', () => {}); // a reset is one way the proxy may end a client that keeps sending
      s.once('connect', () => {
        s.write(bad);
        if (kind === 'closes-at-once') {
          // Without reading: once the proxy had its bad bytes (and paused it, before the fix).
          setTimeout(() => s.end(), 20);
          s.resume();
          s.once('close', () => resolve({ got: '', socket: s }));
        } else if (kind === 'never-reads') {
          s.pause();
          resolve({ got: '', socket: s });
        } else if (kind === 'keeps-sending') {
          s.write(Buffer.alloc(256 * 1024, 0x61)); // read and dropped by the proxy
          s.resume();
          s.once('close', () => resolve({ got: '', socket: s }));
        } else {
          s.on('data', (c) => got.push(c));
          s.once('end', () => s.end());
          s.once('close', () => resolve({ got: Buffer.concat(got).toString('latin1'), socket: s }));
        }
      });
      s.once('error', reject);
    });
  }

  const KINDS = {
    'reads-and-closes': 'read the error and close',
    'closes-at-once': 'close at once',
    'never-reads': 'never read',
    'keeps-sending': 'keep sending',
  } as const;
  for (const kind of Object.keys(KINDS) as Array<keyof typeof KINDS>) {
    it(`100 bad connections that ${KINDS[kind]}: the proxy's sockets and Redis's clients return to baseline`, async () => {
      const fdsBefore = await proxySockets();
      const clientsBefore = await connectedClients();
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => badClient(kind, i)));
      if (kind === 'reads-and-closes') {
        // The error after nothing else, then the close: no reply invented for what came after it.
        results.forEach((r, i) => expect(r.got).toBe(BAD[i % BAD.length]![1]));
      }
      try {
        // The proxy closes its side by itself: at once once both sides said FIN, else within 2 s.
        await pollUntil(
          'the proxy to close every bad connection and its Redis connection',
          async () => (await proxySockets()) <= fdsBefore,
          20_000,
        );
        await pollUntil(
          "Redis's connected_clients back to its baseline",
          async () => (await connectedClients()) <= clientsBefore,
          20_000,
        );
      } finally {
        for (const r of results) r.socket.destroy();
        clients.clear();
      }
    });
  }
});

// Issue 13: four connections sending 256 MB arguments to INFO/CLUSTER/GALLIUMDATA (commands a
// middleware watches, so the proxy holds them whole) took the proxy from 81 MB to 1.12 GB.
describe('a watched request larger than maxWholeFrameBytes', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let capped: TestFleet;
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const MB = 1024 * 1024;
  const payload = Buffer.alloc(20 * MB, 0x62);

  beforeAll(async () => {
    cluster = await startCluster({ masters: 1, replicasPerMaster: 0 });
    fleet = await startFleet({ seeds: cluster.seeds, mappings: 'static', nodes: [cluster.nodes[0]!] });
    capped = await startFleet({
      seeds: cluster.seeds,
      mappings: 'static',
      nodes: [cluster.nodes[0]!],
      edit: (c) => (c.connections[0]!.maxWholeFrameBytes = 4 * MB),
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    await capped?.stop();
    await cluster?.stop();
  });

  /** Send `name <size bytes>` and collect everything the proxy writes until it closes the connection. */
  function sendBig(port: number, name: string, size: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      const got: Buffer[] = [];
      s.on('error', () => {}); // the proxy may reset a client still sending once it gave up on it
      s.on('data', (c) => got.push(c));
      s.once('end', () => s.destroy());
      s.once('close', () => resolve(Buffer.concat(got).toString('latin1')));
      s.once('connect', () => {
        s.write(`*2\r\n$${name.length}\r\n${name}\r\n$${size}\r\n`);
        s.write(size === payload.length ? payload : payload.subarray(0, size));
        s.write('\r\n');
      });
      setTimeout(
        () => reject(new Error(`no close within 30 s (got ${Buffer.concat(got).length} bytes)`)),
        30_000,
      ).unref();
    });
  }

  const tooLarge = (max: number) =>
    `-ERR Protocol error: command too large for the proxy to hold (max ${max} bytes)\r\n`;

  it('8 × 20 MB arguments to CLUSTER, INFO and GALLIUMDATA: each gets the protocol error and a close, and the memory comes back', async () => {
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const names = ['CLUSTER', 'INFO', 'GALLIUMDATA', 'CLUSTER', 'INFO', 'GALLIUMDATA', 'CLUSTER', 'INFO'];
    const got = await Promise.all(names.map((n) => sendBig(fleet.ports[0]!, n, payload.length)));
    expect(got).toEqual(names.map(() => tooLarge(1024 * 1024)));
    // Nothing of them stays held once the sessions closed (no more than the sessions' small buffers).
    await pollUntil(
      'the proxy to let go of the held requests',
      () => {
        gc();
        return process.memoryUsage().arrayBuffers - before < 4 * MB;
      },
      10_000,
    );
  });

  it('a 20 MB SET is streamed, not capped, and reads back whole', async () => {
    const r = new Redis({ port: fleet.ports[0]!, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
    try {
      expect(await r.set('whole:big', payload)).toBe('OK');
      expect((await r.getBuffer('whole:big'))!.equals(payload)).toBe(true);
      await r.del('whole:big');
    } finally {
      r.disconnect();
    }
  });

  it("the cap is the connection's maxWholeFrameBytes: under it the command reaches Redis, over it the protocol error", async () => {
    const under = await new Promise<string>((resolve) => {
      const s = net.connect({ port: capped.ports[0]!, host: '127.0.0.1' });
      s.once('connect', () => {
        s.write(`*2\r\n$7\r\nCLUSTER\r\n$${2 * MB}\r\n`);
        s.write(payload.subarray(0, 2 * MB));
        s.write('\r\n');
      });
      s.once('data', (c) => {
        resolve(c.toString('latin1'));
        s.destroy();
      });
    });
    expect(under).toMatch(/^-ERR unknown subcommand/); // Redis's own answer: the proxy held it and passed it on
    expect(await sendBig(capped.ports[0]!, 'INFO', 5 * MB)).toBe(tooLarge(4 * MB));
  });
});
