import { describe, expect, it } from 'vitest';
import { decodeReply, encodeReply } from '@slotrelay/core';
import { type ReplyKind, mapResolver, rewriteExecReply, shapeFit } from '@slotrelay/middleware-cluster-cmds';
import { expectOnlyProxies, extract } from './support/addresses.js';
import { fixture, manifest, mapFor, proxyAddress, topologyOf } from './support/fixtures.js';

const ip = topologyOf('ip');
const askedId = manifest.entries.find((e) => e.file === 'ip/resp2/cluster-nodes.resp')!.askedId;
const o = { resolve: mapResolver(mapFor(ip, { askedId }), { strict: true }), tls: false };
const proxies = (() => {
  const all = Array.from({ length: ip.length + 2 }, (_, i) => proxyAddress('ipv4', i));
  return { hosts: new Set(all.map((a) => a.host)), ports: new Set(all.map((a) => a.port)) };
})();
const exec = (...items: Array<Buffer | string>) =>
  Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items.map((i) => Buffer.from(i))]);
const reply = (kind: string, p = 2) => fixture(`ip/resp${p}/${kind}.resp`);

describe('shapeFit: telling address-bearing replies from other values', () => {
  const kinds: Array<[ReplyKind, string]> = [
    ['nodes', 'cluster-nodes'],
    ['slots', 'cluster-slots'],
    ['shards', 'cluster-shards'],
    ['replicas', 'cluster-replicas'],
    ['info', 'info-replication-master'],
    ['role', 'role-replica'],
  ];
  for (const [kind, file] of kinds) {
    it(`${kind}: the captured replies match, in RESP2 and RESP3; other kinds and plain values do not`, () => {
      for (const p of [2, 3]) expect(shapeFit(decodeReply(reply(file, p)), kind)).toBe('match');
      for (const [other, otherFile] of kinds)
        if (other !== kind) expect(shapeFit(decodeReply(reply(otherFile)), kind), other).not.toBe('match');
      for (const plain of ['+OK\r\n', '$5\r\nhello\r\n', ':1\r\n', '*2\r\n:1\r\n:2\r\n'])
        expect(shapeFit(decodeReply(Buffer.from(plain)), kind)).toBe('mismatch');
    });
  }
  it('empty replies fit but prove nothing', () => {
    expect(shapeFit(decodeReply(Buffer.from('*0\r\n')), 'slots')).toBe('empty');
    expect(shapeFit(decodeReply(Buffer.from('*0\r\n')), 'replicas')).toBe('empty');
    expect(shapeFit(decodeReply(Buffer.from('$0\r\n\r\n')), 'info')).toBe('empty');
  });
});

describe('rewriteExecReply', () => {
  it('rewrites the counted places, and nothing else', () => {
    const r = rewriteExecReply(
      exec('+OK\r\n', reply('cluster-slots'), reply('cluster-nodes')),
      {
        positions: new Map([
          [1, 'slots'],
          [2, 'nodes'],
        ]),
      },
      o,
    );
    const items = decodeReply(r.value).items!;
    expect(encodeReply(items[0]!).toString()).toBe('+OK\r\n');
    expectOnlyProxies(extract('slots', items[1]!), proxies, ip);
    expectOnlyProxies(extract('nodes', items[2]!), proxies, ip);
    expect(r.byShape).toBe(0);
  });

  it('a counted place holding something else: the reply is found by its shape', () => {
    const r = rewriteExecReply(exec(reply('cluster-nodes'), '+OK\r\n'), { positions: new Map([[1, 'nodes']]) }, o);
    expectOnlyProxies(extract('nodes', decodeReply(r.value).items![0]!), proxies, ip);
    expect(r.byShape).toBe(1);
  });

  it('an error at the counted place does not stop the search', () => {
    const r = rewriteExecReply(
      exec(reply('cluster-shards'), '-ERR no\r\n'),
      { positions: new Map([[1, 'shards']]) },
      o,
    );
    expectOnlyProxies(extract('shards', decodeReply(r.value).items![0]!), proxies, ip);
  });

  it('verifyAll: every element of a queued kind is rewritten, wherever it is', () => {
    const r = rewriteExecReply(
      exec(reply('role-master'), reply('role-replica')),
      { positions: new Map([[0, 'role']]), verifyAll: true },
      o,
    );
    for (const item of decodeReply(r.value).items!) expectOnlyProxies(extract('role', item), proxies, ip);
  });

  it('EXECABORT and null EXEC are returned as they are', () => {
    for (const b of ['-EXECABORT Transaction discarded\r\n', '*-1\r\n', '_\r\n']) {
      const bytes = Buffer.from(b);
      expect(rewriteExecReply(bytes, { positions: new Map([[0, 'nodes']]) }, o).value).toBe(bytes);
    }
  });
});
