import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mastersWithSlots, sharedCluster } from '../support/cluster.js';
import { freePorts } from '../support/fleet.js';
import { type Master, tagOn } from '../support/differential/keys.js';
import {
  type NormalizedRecord,
  compareRecords,
  normalizeFrame,
  normalizeRecord,
} from '../support/differential/normalize.js';
import { mulberry32, randomSplits } from '../support/differential/prng.js';
import { command, describeTree, encodeTree, parseFrame } from '../support/differential/resp.js';
import { type Target, type Workload, delKeys, runDifferential } from '../support/differential/runner.js';
import { type ClientRecord, req } from '../support/differential/script-client.js';

// The differential suite's own checks: its parser, its normalization, and — the negative check —
// that its comparison fails on a misrouted, reordered, lost or extra reply (issue 16, item 3).

const FRAMES = [
  '+OK\r\n',
  '-ERR x\r\n',
  ':-42\r\n',
  '$5\r\nhe\r\nl\r\n',
  '$0\r\n\r\n',
  '$-1\r\n',
  '*-1\r\n',
  '*3\r\n:1\r\n*0\r\n$1\r\nx\r\n',
  '_\r\n',
  ',3.14\r\n',
  '#t\r\n',
  '(123456789012345678901234567890\r\n',
  '=8\r\ntxt:abcd\r\n',
  '!3\r\nerr\r\n',
  '%2\r\n$1\r\na\r\n:1\r\n+b\r\n~1\r\n_\r\n',
  '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n',
  '|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n',
].map((s) => Buffer.from(s, 'latin1'));

function record(name: string, frames: string[]): ClientRecord {
  return {
    name,
    compare: true,
    frames: frames.map((f) => {
      const r = parseFrame(Buffer.from(f, 'latin1'));
      if ('need' in r) throw new Error('incomplete');
      return { tree: r.tree };
    }),
    extra: [],
    partialBytes: 0,
    closedByServer: false,
  };
}

const ids = new Map<number, number>();
const norm = (r: ClientRecord): NormalizedRecord => normalizeRecord(r, ids);

describe('differential suite: parser, normalization, comparison', () => {
  it('the parser finds every frame at every split of the bytes and re-encodes them exactly', () => {
    const all = Buffer.concat(FRAMES);
    for (let p = 0; p <= all.length; p++) {
      // Bytes up to p: exactly the frames that end by p parse; the next one asks for more.
      let at = 0;
      const got: Buffer[] = [];
      const head = all.subarray(0, p);
      for (;;) {
        const r = parseFrame(head, at);
        if ('need' in r) {
          expect(r.need).toBeGreaterThan(head.length);
          break;
        }
        got.push(encodeTree(r.tree));
        at = r.end;
      }
      expect(Buffer.concat(got)).toEqual(all.subarray(0, at));
      expect(got.length).toBe(FRAMES.filter((_, i) => Buffer.concat(FRAMES.slice(0, i + 1)).length <= p).length);
    }
  });

  it('seeded splits are reproducible', () => {
    expect(randomSplits(mulberry32(7), 1000, 5)).toEqual(randomSplits(mulberry32(7), 1000, 5));
    expect(randomSplits(mulberry32(7), 1000, 5)).not.toEqual(randomSplits(mulberry32(8), 1000, 5));
  });

  it('identical streams compare equal; a swapped, reordered, lost, changed or extra reply does not', () => {
    const a = ['+OK\r\n', '$1\r\na\r\n', ':1\r\n'];
    const b = ['+OK\r\n', '$1\r\nb\r\n', ':2\r\n'];
    const ref = [norm(record('A', a)), norm(record('B', b))];
    expect(compareRecords(ref, [norm(record('A', a)), norm(record('B', b))], 't')).toEqual([]);

    // Misrouted: A's second reply went to B and B's to A.
    const swapped = [norm(record('A', [a[0]!, b[1]!, a[2]!])), norm(record('B', [b[0]!, a[1]!, b[2]!]))];
    const d1 = compareRecords(ref, swapped, 't');
    expect(d1).toHaveLength(2);
    expect(d1[0]).toContain('client A: 1 of 3 reply frames differ');
    expect(d1[0]).toContain('#1 redis:  $"a"');
    expect(d1[0]).toContain('#1 t: $"b"');

    // Reordered within one client.
    expect(compareRecords(ref, [norm(record('A', [a[0]!, a[2]!, a[1]!])), ref[1]!], 't')).toHaveLength(1);
    // A lost reply, a changed byte, an extra frame, a frame left half-sent, an unexpected close.
    expect(compareRecords(ref, [norm(record('A', a.slice(0, 2))), ref[1]!], 't')[0]).toContain('Redis sent 3, t 2');
    expect(compareRecords(ref, [norm(record('A', [a[0]!, '$1\r\nA\r\n', a[2]!])), ref[1]!], 't')).toHaveLength(1);
    const extra = { ...record('A', a), extra: [record('x', ['+PONG\r\n']).frames[0]!.tree] };
    expect(compareRecords(ref, [norm(extra), ref[1]!], 't')[0]).toContain('unasked frames differ');
    expect(compareRecords(ref, [norm({ ...record('A', a), partialBytes: 3 }), ref[1]!], 't')).toHaveLength(1);
    expect(compareRecords(ref, [norm({ ...record('A', a), closedByServer: true }), ref[1]!], 't')).toHaveLength(1);
    // A client missing altogether, and one Redis never had.
    expect(compareRecords(ref, [ref[0]!], 't')).toEqual(['t: client B is missing']);
    expect(compareRecords(ref, [...ref, norm(record('C', a))], 't')).toEqual(['t: unexpected client C']);
  });

  it("normalization maps a proxy's address back to its node, and leaves a leaked Redis address as it is", () => {
    const parse = (s: string) => {
      const r = parseFrame(Buffer.from(s));
      if ('need' in r) throw new Error('incomplete');
      return r.tree;
    };
    const redisPorts = new Map([[7000, 7000]]);
    const fleetPorts = new Map([[9000, 7000]]);
    const show = (s: string, ports: Map<number, number>, mask?: Parameters<typeof normalizeFrame>[1]) =>
      describeTree(normalizeFrame(parse(s), mask, ports));
    expect(show('-MOVED 12 127.0.0.1:7000\r\n', redisPorts)).toBe('-MOVED 12 node(7000)');
    expect(show('-MOVED 12 127.0.0.1:9000\r\n', fleetPorts)).toBe('-MOVED 12 node(7000)');
    expect(show('*1\r\n-ASK 12 127.0.0.1:9000\r\n', fleetPorts)).toBe('*[-ASK 12 node(7000)]');
    // A proxy that leaked the node's own address: not normalized, so it differs from Redis's.
    expect(show('-MOVED 12 127.0.0.1:7000\r\n', fleetPorts)).toBe('-MOVED 12 127.0.0.1:7000');
    expect(show('*3\r\n$9\r\n127.0.0.1\r\n:9000\r\n$2\r\nid\r\n', fleetPorts, 'cluster-addresses')).toBe(
      '*[$"127.0.0.1", +node(7000), $"id"]',
    );
    // Masks only touch the shape they expect.
    expect(show(':5\r\n', fleetPorts, 'client-id')).toBe(':<client-id>');
    expect(show('$1\r\n5\r\n', fleetPorts, 'client-id')).toBe('$"5"');
    expect(show('$1\r\n5\r\n', fleetPorts)).toBe('$"5"');
  });

  it('FRAMES cover every RESP3 type byte the parser knows', () => {
    const types = new Set(FRAMES.map((f) => String.fromCharCode(f[0]!)));
    for (const t of '+-:$*_,#(=!%>|') expect(types.has(t), t).toBe(true);
    expect(command('GET', 'k').toString()).toBe('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
  });
});

/**
 * A deliberately broken "proxy": it pairs its client connections two by two and delivers the
 * replies of each one's Redis connection to the other (what a shared upstream that misroutes
 * would do).
 */
async function misroutingForwarder(redisPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const [port] = await freePorts(1);
  const sockets = new Set<net.Socket>();
  let waiting: { client: net.Socket; upstream: net.Socket } | undefined;
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: redisPort, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => upstream.write(d));
    if (!waiting) waiting = { client, upstream };
    else {
      const other = waiting;
      waiting = undefined;
      upstream.on('data', (d) => other.client.write(d));
      other.upstream.on('data', (d) => client.write(d));
    }
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: port!,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('differential suite: the negative check against a misrouting forwarder', () => {
  let master: Master;
  let forwarder: Awaited<ReturnType<typeof misroutingForwarder>>;
  const prefix = `diffneg-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    master = (await mastersWithSlots(sharedCluster().seeds[0]!))[0]!;
    forwarder = await misroutingForwarder(master.port);
  });
  afterAll(() => forwarder?.close());

  it('replies delivered to the wrong client fail the comparison, and name the seed', async () => {
    const tag = tagOn(master, prefix);
    const redis: Target = { name: 'redis', portFor: (p) => p, ports: new Map([[master.port, master.port]]) };
    const broken: Target = {
      name: 'misrouting',
      portFor: () => forwarder.port,
      ports: new Map([[forwarder.port, master.port]]),
    };
    const workload: Workload = {
      name: 'negative',
      reset: (run) => delKeys(run, master.port, [`${tag}:a`, `${tag}:b`]),
      cleanup: (run) => delKeys(run, master.port, [`${tag}:a`, `${tag}:b`]),
      async run(run) {
        const a = await run.client('A', master.port);
        const b = await run.client('B', master.port);
        // Both send, then both wait: each misrouted reply still arrives (at the other client).
        await a.send([req(['SET', `${tag}:a`, 'for-a']), req(['GET', `${tag}:a`])]);
        await b.send([req(['SET', `${tag}:b`, 'for-b']), req(['GET', `${tag}:b`])]);
        await Promise.all([a.expect(2), b.expect(2)]);
      },
    };
    const r = await runDifferential(workload, [redis, broken], 1234);
    expect(r.differences.length).toBeGreaterThan(0);
    expect(r.differences.join('\n')).toMatch(/misrouting: client A/);
    expect(r.differences.join('\n')).toContain('for-b');
  });
});
