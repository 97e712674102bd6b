import { describe, expect, it } from 'vitest';
import { type ProxyAddress, RespType, decodeReply, encodeReply, toPlain } from '@slotrelay/core';
import {
  type NodeResolver,
  rewriteClusterShards,
  rewriteClusterSlots,
  rewriteReply,
} from '@slotrelay/middleware-cluster-cmds';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const proxies: Record<string, ProxyAddress> = {
  [A]: { host: '127.199.0.1', port: 6391, text: '127.199.0.1:6391' },
  [B]: { host: 'proxy-2.slotrelay.test', port: 6392, text: 'proxy-2.slotrelay.test:6392' },
};
/** By ID only: C is a node no proxy fronts. */
const resolve: NodeResolver = (id) => (id === null ? undefined : proxies[id]);
const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;
const wire = (...parts: string[]) => Buffer.from(parts.join(''), 'latin1');

describe('CLUSTER SLOTS shapes', () => {
  it('pre-7 entries ([ip, port, id]) and pre-4 entries ([ip, port]) are rewritten too', () => {
    const bytes = wire(
      '*1\r\n*4\r\n:0\r\n:16383\r\n*3\r\n',
      bulk('127.100.0.1'),
      ':7000\r\n',
      bulk(A),
      '*2\r\n',
      bulk('127.100.0.2'),
      ':7001\r\n',
    );
    const byAddress: NodeResolver = (id, host, port) =>
      id ? proxies[id] : host === '127.100.0.2' && port === 7001 ? proxies[B] : undefined;
    const out = rewriteReply(bytes, 'slots', { resolve: byAddress, tls: false });
    expect(toPlain(decodeReply(out.value))).toEqual([
      [0, 16383, ['127.199.0.1', 6391, A], ['proxy-2.slotrelay.test', 6392]],
    ]);
  });

  it('metadata: ip becomes the proxy host; hostname the proxy host if a DNS name, else dropped; other keys stay', () => {
    const meta = (ip: string, host: string) =>
      `*6\r\n${bulk('ip')}${bulk(ip)}${bulk('hostname')}${bulk(host)}${bulk('zone')}${bulk('z1')}`;
    const bytes = wire(
      '*1\r\n*4\r\n:0\r\n:16383\r\n',
      '*4\r\n$-1\r\n:7000\r\n',
      bulk(A),
      meta('127.100.0.1', 'redis-1.svc'),
      '*4\r\n$-1\r\n:7001\r\n',
      bulk(B),
      meta('127.100.0.2', 'redis-2.svc'),
    );
    const out = rewriteReply(bytes, 'slots', { resolve, tls: false });
    const plain = toPlain(decodeReply(out.value)) as unknown[][];
    expect(plain[0]![2]).toEqual(['127.199.0.1', 6391, A, ['ip', '127.199.0.1', 'zone', 'z1']]);
    expect(plain[0]![3]).toEqual([
      'proxy-2.slotrelay.test',
      6392,
      B,
      ['ip', 'proxy-2.slotrelay.test', 'hostname', 'proxy-2.slotrelay.test', 'zone', 'z1'],
    ]);
  });

  it('an unknown replica leaves its range; an unknown master drops the range; both reported', () => {
    const node = (id: string) => `*3\r\n${bulk('127.100.0.9')}:7009\r\n${bulk(id)}`;
    const bytes = wire('*2\r\n', '*4\r\n:0\r\n:99\r\n', node(A), node(C), '*4\r\n:100\r\n:199\r\n', node(C), node(B));
    const root = decodeReply(bytes);
    const r = rewriteClusterSlots(root, resolve);
    expect(toPlain(r.value)).toEqual([[0, 99, ['127.199.0.1', 6391, A]]]);
    expect(r.unknown.map((u) => u.id)).toEqual([C, C]);
  });
});

describe('CLUSTER SHARDS shapes', () => {
  /** A RESP3 node map from key/value pairs (numbers as integers). */
  const map = (pairs: Array<[string, string | number]>) =>
    `%${pairs.length}\r\n${pairs.map(([k, v]) => bulk(k) + (typeof v === 'number' ? `:${v}\r\n` : bulk(v))).join('')}`;

  it('port and tls-port (both, as 7.2 sends them) become exactly one, by the listener', () => {
    const n = map([
      ['id', A],
      ['port', 7000],
      ['tls-port', 7100],
      ['ip', '127.100.0.1'],
      ['endpoint', '127.100.0.1'],
      ['role', 'master'],
    ]);
    const bytes = wire('*1\r\n%2\r\n', bulk('slots'), '*2\r\n:0\r\n:16383\r\n', bulk('nodes'), '*1\r\n', n);
    for (const tls of [false, true]) {
      const out = toPlain(decodeReply(rewriteReply(bytes, 'shards', { resolve, tls }).value)) as Array<{
        nodes: Array<Record<string, unknown>>;
      }>;
      const keys = Object.keys(out[0]!.nodes[0]!);
      expect(keys).toEqual(['id', tls ? 'tls-port' : 'port', 'ip', 'endpoint', 'role']);
      expect(out[0]!.nodes[0]![tls ? 'tls-port' : 'port']).toBe(6391);
    }
  });

  it('a node with only tls-port gets port on a plain listener; a DNS proxy gets a hostname after endpoint', () => {
    const n = map([
      ['id', B],
      ['tls-port', 7101],
      ['ip', '127.100.0.2'],
      ['endpoint', '127.100.0.2'],
      ['role', 'replica'],
    ]);
    const bytes = wire('*1\r\n%2\r\n', bulk('slots'), '*0\r\n', bulk('nodes'), '*1\r\n', n);
    const out = toPlain(decodeReply(rewriteReply(bytes, 'shards', { resolve, tls: false }).value)) as Array<{
      nodes: Array<Record<string, unknown>>;
    }>;
    expect(out[0]!.nodes[0]).toEqual({
      id: B,
      port: 6392,
      ip: 'proxy-2.slotrelay.test',
      endpoint: 'proxy-2.slotrelay.test',
      hostname: 'proxy-2.slotrelay.test',
      role: 'replica',
    });
  });

  it('an unknown node is dropped; a shard left without nodes is dropped; a shard with no nodes at all stays', () => {
    const nodeOf = (id: string) =>
      map([
        ['id', id],
        ['port', 7000],
        ['ip', '127.100.0.9'],
        ['endpoint', '127.100.0.9'],
      ]);
    const shard = (...ids: string[]) =>
      `%2\r\n${bulk('slots')}*0\r\n${bulk('nodes')}*${ids.length}\r\n${ids.map(nodeOf).join('')}`;
    const root = decodeReply(wire('*3\r\n', shard(A, C), shard(C), shard()));
    const r = rewriteClusterShards(root, resolve, { tls: false });
    const plain = toPlain(r.value) as Array<{ nodes: Array<{ id: string }> }>;
    expect(plain.map((s) => s.nodes.map((n) => n.id))).toEqual([[A], []]);
    expect(r.unknown.map((u) => u.id)).toEqual([C, C]);
    expect(r.value.items![0]!.type).toBe(RespType.Map);
    expect(encodeReply(r.value).toString()).not.toContain('127.100.0.9');
  });
});
