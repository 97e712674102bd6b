import { describe, expect, it } from 'vitest';
import { decodeMultibulkArgs, encodeCommand } from '@slotrelay/core/internal';
import { chunkings, sessionHarness } from '@slotrelay/testkit';
import { ClusterCmdsMiddleware, mapRedisResolver, rewriteAddressArgs } from '@slotrelay/middleware-cluster-cmds';
import {
  asService,
  listenerInfo,
  manifest,
  mapFor,
  outputReader,
  stubTopology,
  topologyOf,
} from './support/fixtures.js';

const nodes = topologyOf('ip');
const askedId = manifest.entries.find((e) => e.file === 'ip/resp2/cluster-nodes.resp')!.askedId;
const map = mapFor(nodes, { askedId });
// The proxy a client learned from CLUSTER NODES, and the Redis node behind it.
const target = nodes.find((n) => n.role === 'replica')!;
const proxy = map.proxyFor(target.id)!;
const redis = { host: target.ip, port: target.port };
const b = (...a: string[]) => a.map((x) => Buffer.from(x));
const text = (args: Buffer[] | null) => args?.map((a) => a.toString('latin1'));

describe('proxy addresses in client commands are mapped back to Redis', () => {
  const table: Array<[string, string[], string[] | null]> = [
    [
      'MIGRATE with a key',
      ['MIGRATE', proxy.host, `${proxy.port}`, 'k', '0', '5000'],
      ['MIGRATE', redis.host, `${redis.port}`, 'k', '0', '5000'],
    ],
    [
      'MIGRATE "" … KEYS as redis-cli --cluster reshard sends it',
      ['migrate', proxy.host, `${proxy.port}`, '', '0', '60000', 'REPLACE', 'AUTH', 'pw', 'KEYS', 'a', 'b'],
      ['migrate', redis.host, `${redis.port}`, '', '0', '60000', 'REPLACE', 'AUTH', 'pw', 'KEYS', 'a', 'b'],
    ],
    [
      'CLUSTER MEET ip port',
      ['CLUSTER', 'MEET', proxy.host, `${proxy.port}`],
      ['CLUSTER', 'MEET', redis.host, `${redis.port}`],
    ],
    [
      'CLUSTER MEET ip port cport (the bus port passes)',
      ['cluster', 'meet', proxy.host, `${proxy.port}`, `${target.cport}`],
      ['cluster', 'meet', redis.host, `${redis.port}`, `${target.cport}`],
    ],
    ['REPLICAOF host port', ['REPLICAOF', proxy.host, `${proxy.port}`], ['REPLICAOF', redis.host, `${redis.port}`]],
    ['SLAVEOF host port', ['SLAVEOF', proxy.host, `${proxy.port}`], ['SLAVEOF', redis.host, `${redis.port}`]],
    ['REPLICAOF NO ONE', ['REPLICAOF', 'NO', 'ONE'], null],
    ['an address that is no proxy', ['MIGRATE', '192.0.2.1', '7000', 'k', '0', '5000'], null],
    ['a proxy host with another port', ['MIGRATE', proxy.host, '1', 'k', '0', '5000'], null],
    ['a port that is not a number', ['CLUSTER', 'MEET', proxy.host, 'x'], null],
    ['MIGRATE with too few arguments (Redis answers the arity error)', ['MIGRATE', proxy.host, `${proxy.port}`], null],
    ['CLUSTER FORGET (no address)', ['CLUSTER', 'FORGET', target.id], null],
    [
      'CLIENT KILL LADDR proxy (as CLIENT LIST shows laddr)',
      ['client', 'kill', 'SKIPME', 'no', 'laddr', proxy.text],
      ['client', 'kill', 'SKIPME', 'no', 'laddr', `${redis.host}:${redis.port}`],
    ],
    ["CLIENT KILL ADDR (the proxy's own socket: not mapped)", ['CLIENT', 'KILL', 'ADDR', proxy.text], null],
    ['CLIENT KILL ip:port (old form, addr=)', ['CLIENT', 'KILL', proxy.text], null],
  ];
  for (const [what, args, expected] of table) {
    it(`rewriteAddressArgs: ${what}`, () => {
      expect(text(rewriteAddressArgs(b(...args), mapRedisResolver(map)))).toEqual(expected ?? undefined);
    });
  }

  it('through a session: the request bytes reaching Redis name the Redis node, at every split', async () => {
    const stub = stubTopology(map);
    const h = await sessionHarness({ middleware: [new ClusterCmdsMiddleware(asService(stub), listenerInfo())] });
    const request = Buffer.concat([
      encodeCommand(['MIGRATE', proxy.host, `${proxy.port}`, '', '0', '5000', 'KEYS', 'a']),
      encodeCommand(['CLUSTER', 'MEET', proxy.host, `${proxy.port}`, `${target.cport}`]),
      encodeCommand(['REPLICAOF', 'NO', 'ONE']),
      encodeCommand(['GET', 'k']),
    ]);
    const expected = Buffer.concat([
      encodeCommand(['MIGRATE', redis.host, `${redis.port}`, '', '0', '5000', 'KEYS', 'a']),
      encodeCommand(['CLUSTER', 'MEET', redis.host, `${redis.port}`, `${target.cport}`]),
      encodeCommand(['REPLICAOF', 'NO', 'ONE']),
      encodeCommand(['GET', 'k']),
    ]);
    const next = outputReader(h.upstream);
    for (const { label, chunks } of chunkings(request)) {
      h.clientSends(...chunks);
      expect(next().toString('latin1'), label).toBe(expected.toString('latin1'));
    }
  });

  it('CLIENT KILL LADDR with the proxy address CLIENT LIST showed reaches Redis naming the node', async () => {
    const h = await sessionHarness({
      middleware: [new ClusterCmdsMiddleware(asService(stubTopology(map)), listenerInfo())],
    });
    h.clientSends(encodeCommand(['CLIENT', 'KILL', 'LADDR', proxy.text, 'SKIPME', 'yes']));
    expect(h.toRedis()).toBe(
      encodeCommand(['CLIENT', 'KILL', 'LADDR', `${redis.host}:${redis.port}`, 'SKIPME', 'yes']).toString('latin1'),
    );
  });

  it('an inline command is mapped too (sent on as a multibulk)', async () => {
    const h = await sessionHarness({
      middleware: [new ClusterCmdsMiddleware(asService(stubTopology(map)), listenerInfo())],
    });
    h.clientSends(`MIGRATE ${proxy.host} ${proxy.port} k 0 5000\r\n`);
    const sent = h.upstream.written();
    expect(text(decodeMultibulkArgs(sent, 0, sent.length))).toEqual([
      'MIGRATE',
      redis.host,
      `${redis.port}`,
      'k',
      '0',
      '5000',
    ]);
  });

  it('inside MULTI the queued command is mapped and the EXEC position still counts it', async () => {
    const h = await sessionHarness({
      middleware: [new ClusterCmdsMiddleware(asService(stubTopology(map)), listenerInfo())],
    });
    h.clientSends(
      encodeCommand(['MULTI']),
      encodeCommand(['REPLICAOF', proxy.host, `${proxy.port}`]),
      encodeCommand(['ROLE']),
      encodeCommand(['EXEC']),
    );
    expect(h.toRedis()).toContain(encodeCommand(['REPLICAOF', redis.host, `${redis.port}`]).toString('latin1'));
    h.redisSends(
      `+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n*5\r\n$5\r\nslave\r\n$${redis.host.length}\r\n${redis.host}\r\n:${redis.port}\r\n$9\r\nconnected\r\n:0\r\n`,
    );
    expect(h.toClient()).toContain(`$${proxy.host.length}\r\n${proxy.host}\r\n:${proxy.port}\r\n`);
    expect(h.toClient()).not.toContain(`:${redis.port}\r\n`);
  });

  it('with no address map yet, the command passes unchanged', async () => {
    const h = await sessionHarness({
      middleware: [new ClusterCmdsMiddleware(asService(stubTopology(null)), listenerInfo())],
    });
    const req = encodeCommand(['CLUSTER', 'MEET', proxy.host, `${proxy.port}`]);
    h.clientSends(req);
    expect(h.upstream.written().equals(req)).toBe(true);
  });
});
