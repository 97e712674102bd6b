import { describe, expect, it } from 'vitest';
import { type ProxyAddress, decodeReply, encodeReply, node, toPlain } from '@slotrelay/core';
import { type NodeResolver, rewriteInfo, rewriteReply, rewriteRole } from '@slotrelay/middleware-cluster-cmds';
import { fixture, manifest, mapFor, topologyOf } from './support/fixtures.js';

/** A resolver over a fixed table of Redis `host:port` → proxy. */
const table =
  (entries: Record<string, string>): NodeResolver =>
  (_id, host, port) => {
    const p = entries[`${host}:${port}`];
    if (p === undefined) return undefined;
    const i = p.lastIndexOf(':');
    return { host: p.slice(0, i), port: Number(p.slice(i + 1)), text: p } satisfies ProxyAddress;
  };

const MASTER_INFO = [
  '# Replication',
  'role:master',
  'connected_slaves:3',
  'slave0:ip=127.100.0.2,port=7001,state=online,offset=14,lag=1',
  'slave1:ip=127.100.0.9,port=7009,state=online,offset=14,lag=0',
  'slave2:ip=fe80::3,port=7002,state=wait_bgsave,offset=0,lag=0',
  'master_failover_state:no-failover',
  '',
].join('\r\n');

describe('INFO', () => {
  const resolve = table({
    '127.100.0.1:7000': 'proxy-1.test:6391',
    '127.100.0.2:7001': 'proxy-2.test:6392',
    'fe80::3:7002': 'fd00::3:6393',
  });

  it("a master's slaveN lines get proxy addresses; an unknown replica's line goes and the rest are renumbered", () => {
    const r = rewriteInfo(MASTER_INFO, resolve);
    expect(r.value.split('\r\n').filter((l) => l.startsWith('slave'))).toEqual([
      'slave0:ip=proxy-2.test,port=6392,state=online,offset=14,lag=1',
      'slave1:ip=fd00::3,port=6393,state=wait_bgsave,offset=0,lag=0',
    ]);
    expect(r.unknown).toEqual([{ id: null, host: '127.100.0.9', port: 7009 }]);
    expect(r.value).toContain('connected_slaves:3'); // a count, not an address
  });

  it("a replica's master_host / master_port name the master's proxy", () => {
    const r = rewriteInfo(
      '# Replication\r\nrole:slave\r\nmaster_host:127.100.0.1\r\nmaster_port:7000\r\nmaster_link_status:up\r\n',
      resolve,
    );
    expect(r.value).toBe(
      '# Replication\r\nrole:slave\r\nmaster_host:proxy-1.test\r\nmaster_port:6391\r\nmaster_link_status:up\r\n',
    );
  });

  it('a master no proxy fronts shows as ?:0', () => {
    const r = rewriteInfo('role:slave\r\nmaster_host:192.0.2.7\r\nmaster_port:7000\r\n', resolve);
    expect(r.value).toBe('role:slave\r\nmaster_host:?\r\nmaster_port:0\r\n');
    expect(r.unknown.length).toBe(1);
  });

  it('tcp_port becomes the port of the proxy in front of the answering node; other sections pass', () => {
    const text = '# Server\r\nredis_version:7.0.15\r\ntcp_port:7000\r\n\r\n# Clients\r\nconnected_clients:1\r\n';
    const self = { host: 'proxy-1.test', port: 6391, text: 'proxy-1.test:6391' };
    expect(rewriteInfo(text, resolve, { self }).value).toBe(text.replace('tcp_port:7000', 'tcp_port:6391'));
    expect(rewriteInfo(text, resolve).changed).toBe(false);
  });

  it('INFO without replication addresses is left as it is (no copy)', () => {
    const bytes = encodeReply(node.bulk('# Memory\r\nused_memory:1\r\n'));
    expect(rewriteReply(bytes, 'info', { resolve, tls: false }).value).toBe(bytes);
  });

  it('captured INFO server+replication: tcp_port and master addresses name proxies, RESP2 and RESP3', () => {
    for (const p of [2, 3]) {
      const e = manifest.entries.find((x) => x.file === `ip/resp${p}/info-server-replication.resp`)!;
      const nodes = topologyOf('ip');
      const map = mapFor(nodes, { askedId: e.askedId });
      const self = map.proxyFor(e.askedId)!;
      const out = rewriteReply(fixture(e.file), 'info', {
        resolve: (_id, h, port) => map.proxyForEndpoint(h, port, map.upstream.host),
        tls: false,
        self,
      });
      const text = decodeReply(out.value).data!.toString();
      expect(text).toContain(`\r\ntcp_port:${self.port}\r\n`);
      expect(text).not.toContain('127.0.0.1');
    }
  });
});

describe('ROLE', () => {
  const resolve = table({ '127.100.0.1:7000': 'proxy-1.test:6391', '127.100.0.2:7001': 'proxy-2.test:6392' });

  it("a master lists its replicas' proxies (ports stay bulk strings); an unknown replica is left out", () => {
    const reply = decodeReply(
      Buffer.from(
        '*3\r\n$6\r\nmaster\r\n:28\r\n*2\r\n*3\r\n$11\r\n127.100.0.2\r\n$4\r\n7001\r\n$2\r\n14\r\n*3\r\n$11\r\n127.100.0.9\r\n$4\r\n7009\r\n$2\r\n14\r\n',
      ),
    );
    const r = rewriteRole(reply, resolve);
    expect(encodeReply(r.value).toString()).toBe(
      '*3\r\n$6\r\nmaster\r\n:28\r\n*1\r\n*3\r\n$12\r\nproxy-2.test\r\n$4\r\n6392\r\n$2\r\n14\r\n',
    );
    expect(r.unknown).toEqual([{ id: null, host: '127.100.0.9', port: 7009 }]);
  });

  it("a replica names its master's proxy (the port stays an integer); unknown: ? and 0", () => {
    const known = rewriteRole(
      decodeReply(Buffer.from('*5\r\n$5\r\nslave\r\n$11\r\n127.100.0.1\r\n:7000\r\n$9\r\nconnected\r\n:28\r\n')),
      resolve,
    );
    expect(toPlain(known.value)).toEqual(['slave', 'proxy-1.test', 6391, 'connected', 28]);
    const unknown = rewriteRole(
      decodeReply(Buffer.from('*5\r\n$5\r\nslave\r\n$9\r\n192.0.2.7\r\n:7000\r\n$9\r\nconnected\r\n:28\r\n')),
      resolve,
    );
    expect(toPlain(unknown.value)).toEqual(['slave', '?', 0, 'connected', 28]);
  });

  it('a sentinel reply passes unchanged', () => {
    const bytes = Buffer.from('*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n');
    expect(rewriteReply(bytes, 'role', { resolve, tls: false }).value).toBe(bytes);
  });
});
