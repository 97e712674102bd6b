import { describe, expect, it } from 'vitest';
import { RespType, decodeReply, encodeCommand, encodeReply, node } from '@slotrelay/core';
import { chunkings, sessionHarness } from '@slotrelay/testkit';
import {
  ClusterCmdsMiddleware,
  NodeEndpoints,
  type ReplyKind,
  SCRIPT_ADDRESS_ERROR,
  mapResolver,
  rewriteReply,
} from '@slotrelay/middleware-cluster-cmds';
import { expectNoRedisHostText } from './support/addresses.js';
import {
  asService,
  fixture,
  flush,
  listenerInfo,
  manifest,
  mapFor,
  outputReader,
  stubTopology,
  topologyOf,
} from './support/fixtures.js';

const ERROR = `-${SCRIPT_ADDRESS_ERROR}\r\n`;
const bulk = (s: string) => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;

async function harness(set: string) {
  const nodes = topologyOf(set);
  const askedId = manifest.entries.find((e) => e.set === set && e.file.endsWith('resp2/cluster-nodes.resp'))!.askedId;
  const map = mapFor(nodes, { askedId });
  const h = await sessionHarness({
    middleware: [new ClusterCmdsMiddleware(asService(stubTopology(map)), listenerInfo())],
  });
  return { h, nodes, map, next: outputReader(h.client) };
}

const EVAL = (script: string) => encodeCommand(['EVAL', script, '0']);

// Issue 13: `EVAL "return redis.call('cluster','nodes')" 0` handed the client Redis addresses.
describe('script replies that name Redis nodes', () => {
  const shaped: Array<{ kind: ReplyKind; file: string }> = [
    { kind: 'nodes', file: 'cluster-nodes' },
    { kind: 'slots', file: 'cluster-slots' },
    { kind: 'shards', file: 'cluster-shards' },
    { kind: 'replicas', file: 'cluster-replicas' },
    { kind: 'info', file: 'info-replication-master' },
    { kind: 'info', file: 'info-replication-replica' },
  ];
  for (const set of ['ip', 'hostname']) {
    for (const protocol of [2, 3]) {
      for (const c of shaped) {
        const file = `${set}/resp${protocol}/${c.file}.resp`;
        it(`${file} returned by a script is rewritten as the command's own reply`, async () => {
          const { h, nodes, map, next } = await harness(set);
          const reply = fixture(file);
          const direct = rewriteReply(reply, c.kind, {
            resolve: mapResolver(map, { strict: true }),
            tls: false,
            self: map.self ? map.proxyFor(map.self.id) : undefined,
          });
          h.clientSends(EVAL(`return redis.call('x')`));
          h.redisSends(reply);
          await flush();
          const out = next();
          expect(out.toString('latin1')).toBe(direct.value.toString('latin1'));
          expectNoRedisHostText(out, nodes, file);
        });
      }
    }
  }

  it('a Lua string holding CLUSTER NODES (RESP3 verbatim after redis.setresp(3) too) is rewritten, at every split', async () => {
    const { h, nodes, next } = await harness('ip');
    const reply = fixture('ip/resp3/cluster-nodes.resp');
    for (const { label, chunks } of chunkings(reply)) {
      h.clientSends(encodeCommand(['FCALL', 'nodes', '0']), encodeCommand(['PING']));
      h.redisSends(...chunks, '+PONG\r\n');
      await flush();
      const out = next();
      expect(out[0], label).toBe(RespType.Verbatim);
      expect(out.toString('latin1').endsWith('+PONG\r\n'), label).toBe(true);
      expectNoRedisHostText(out, nodes, label);
    }
  });

  it('an endpoint inside any other value gets the error instead; the next reply is untouched', async () => {
    const { h, nodes, next } = await harness('ip');
    const n = nodes[0]!;
    const bad = [
      bulk(`x ${n.ip}:${n.port} y`),
      bulk(`bus ${n.ip}:${n.cport}`),
      `+${n.ip}:${n.port}\r\n`,
      `-ERR oops ${n.ip}:${n.port}\r\n`,
      `*2\r\n${bulk(n.ip)}:${n.port}\r\n`,
      `*1\r\n*3\r\n${bulk('a')}${bulk(n.ip)}${bulk(String(n.port))}`,
      `%1\r\n${bulk('k')}${bulk(`ip=${n.ip},port=${n.port},state=online`)}`,
      bulk(`master_host:${n.ip}\r\nmaster_port:${n.port}\r\n`),
      bulk(`x\n${encodeReply(decodeReply(fixture('ip/resp2/cluster-nodes.resp'))).toString('latin1')}`),
    ];
    for (const reply of bad) {
      h.clientSends(EVAL('return 1'), encodeCommand(['GET', 'k']));
      h.redisSends(reply, bulk('v'));
      await flush();
      expect(next().toString('latin1'), JSON.stringify(reply)).toBe(ERROR + bulk('v'));
    }
  });

  it('a reply that names no endpoint passes byte for byte', async () => {
    const { h, nodes, next } = await harness('ip');
    const n = nodes[0]!;
    const plain = [
      bulk('hello'),
      ':42\r\n',
      `*3\r\n${bulk('a')}:1\r\n$-1\r\n`,
      bulk(`${n.ip} alone names no node`),
      bulk(`${n.ip}:${n.port}9 is another port`),
      bulk(`1${n.ip}:${n.port} is another host`),
      `*2\r\n${bulk(n.ip)}:1\r\n`,
      `-MOVED 3999 ${n.ip}:${n.port}\r\n`, // middleware-redirect's to rewrite
    ];
    for (const reply of plain) {
      h.clientSends(EVAL('return 1'));
      h.redisSends(reply);
      await flush();
      expect(next().toString('latin1')).toBe(reply);
    }
  });

  it('EVAL_RO, EVALSHA, EVALSHA_RO, FCALL_RO are guarded too', async () => {
    const { h, nodes, next } = await harness('ip');
    const n = nodes[1]!;
    for (const cmd of ['EVAL_RO', 'EVALSHA', 'EVALSHA_RO', 'FCALL_RO']) {
      h.clientSends(encodeCommand([cmd, 'x', '0']));
      h.redisSends(bulk(`${n.hostname || n.ip}:${n.port}`));
      await flush();
      expect(next().toString('latin1'), cmd).toBe(ERROR);
    }
  });

  it('queued in MULTI: the script elements of the EXEC array are rewritten or refused, the others kept', async () => {
    const { h, nodes, next } = await harness('ip');
    const n = nodes[0]!;
    const nodesReply = fixture('ip/resp2/cluster-nodes.resp');
    h.clientSends(
      encodeCommand(['MULTI']),
      EVAL('a'),
      encodeCommand(['GET', 'k']),
      EVAL('b'),
      EVAL('c'),
      encodeCommand(['EXEC']),
    );
    h.redisSends('+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '+QUEUED\r\n');
    h.redisSends(
      Buffer.concat([
        Buffer.from('*4\r\n'),
        nodesReply,
        Buffer.from(bulk('plain') + bulk(`${n.ip}:${n.port}`) + bulk('v')),
      ]),
    );
    await flush();
    const out = next().toString('latin1');
    expect(out.startsWith('+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*4\r\n')).toBe(true);
    const arr = decodeReply(
      Buffer.from(out.slice('+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n'.length), 'latin1'),
    );
    expect(arr.items![0]!.type).toBe(RespType.BulkString);
    expectNoRedisHostText(arr.items![0]!.data!, nodes);
    expect(arr.items![1]!.data!.toString()).toBe('plain');
    expect(arr.items![2]!).toEqual(node.error(SCRIPT_ADDRESS_ERROR));
    expect(arr.items![3]!.data!.toString()).toBe('v');
  });
});

describe('NodeEndpoints', () => {
  it('knows IP, hostname, client, TLS and bus ports of every node', () => {
    const nodes = topologyOf('hostname');
    const e = NodeEndpoints.of(mapFor(nodes));
    for (const n of nodes) {
      for (const host of [n.ip, n.hostname].filter((x) => x !== '')) {
        for (const port of [n.port, n.cport]) {
          expect(e.namesEndpoint(decodeReply(Buffer.from(bulk(`${host}:${port}`)))), `${host}:${port}`).toBe(true);
        }
      }
    }
    expect(NodeEndpoints.of(null).mayName(Buffer.from(bulk(`${nodes[0]!.ip}:${nodes[0]!.port}`)))).toBe(false);
  });
});
