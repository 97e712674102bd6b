import { describe, expect, it } from 'vitest';
import { AddressMap, encodeCommand } from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';
import { ClusterCmdsMiddleware, REPLY_ADDRESS_ERROR } from '@slotrelay/middleware-cluster-cmds';
import {
  asService,
  flush,
  listenerInfo,
  manifest,
  mapFor,
  outputReader,
  stubTopology,
  topologyOf,
} from './support/fixtures.js';

const bulk = (s: string) => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;

async function harness() {
  const nodes = topologyOf('ip');
  const askedId = manifest.entries.find((e) => e.file === 'ip/resp2/cluster-nodes.resp')!.askedId;
  const map = mapFor(nodes, { askedId });
  const h = await sessionHarness({
    middleware: [new ClusterCmdsMiddleware(asService(stubTopology(map)), listenerInfo())],
  });
  const self = nodes.find((n) => n.id === askedId)!;
  return { h, nodes, map, self, proxy: map.proxyFor(askedId)!, next: outputReader(h.client) };
}

// Issue 13, item 4: introspection replies that carry the node's own address.
describe('introspection replies name proxies, not Redis nodes', () => {
  it("CLIENT LIST / CLIENT INFO: laddr (the node's listening address) becomes the proxy's; addr (the proxy's own socket) stays", async () => {
    const { h, self, proxy, next } = await harness();
    const line = (laddr: string) =>
      `id=6 addr=127.0.0.1:45956 laddr=${laddr} fd=9 name= age=1 cmd=client|list user=default redir=-1 resp=2\n`;
    for (const cmd of [
      ['CLIENT', 'LIST'],
      ['CLIENT', 'INFO'],
      ['client', 'list', 'TYPE', 'normal'],
    ]) {
      h.clientSends(encodeCommand(cmd));
      h.redisSends(bulk(line(`${self.ip}:${self.port}`) + line(`${self.ip}:${self.port}`)));
      await flush();
      expect(next().toString('latin1'), cmd.join(' ')).toBe(bulk(line(proxy.text) + line(proxy.text)));
    }
  });

  it('ACL LOG: laddr inside client-info becomes the proxy address (RESP3 map kept)', async () => {
    const { h, self, proxy, next } = await harness();
    const info = (laddr: string) => `id=7 addr=127.0.0.1:40000 laddr=${laddr} fd=10 name=`;
    const entry = (laddr: string) =>
      `*1\r\n%2\r\n${bulk('reason')}${bulk('auth')}${bulk('client-info')}${bulk(info(laddr))}`;
    h.clientSends(encodeCommand(['ACL', 'LOG']));
    h.redisSends(entry(`${self.ip}:${self.port}`));
    await flush();
    expect(next().toString('latin1')).toBe(entry(proxy.text));
  });

  it('CONFIG GET drops port, bind and the announce parameters, keeps the rest', async () => {
    const { h, self, next } = await harness();
    for (const [open, pair] of [
      ['*', (k: string, v: string) => bulk(k) + bulk(v)],
      ['%', (k: string, v: string) => bulk(k) + bulk(v)],
    ] as const) {
      h.clientSends(encodeCommand(['CONFIG', 'GET', '*']));
      const pairs = [
        ['maxmemory', '0'],
        ['port', String(self.port)],
        ['bind', self.ip],
        ['cluster-announce-bus-port', '0'],
        ['timeout', '0'],
      ];
      const n = open === '*' ? pairs.length * 2 : pairs.length;
      h.redisSends(`${open}${n}\r\n${pairs.map(([k, v]) => pair(k!, v!)).join('')}`);
      await flush();
      const kept = [pairs[0]!, pairs[4]!];
      expect(next().toString('latin1'), open).toBe(
        `${open}${open === '*' ? 4 : 2}\r\n${kept.map(([k, v]) => pair(k!, v!)).join('')}`,
      );
    }
  });

  it('a CONFIG GET that names no address parameter passes byte for byte', async () => {
    const { h, next } = await harness();
    h.clientSends(encodeCommand(['CONFIG', 'GET', 'maxmemory']));
    const reply = `*2\r\n${bulk('maxmemory')}${bulk('0')}`;
    h.redisSends(reply);
    await flush();
    expect(next().toString('latin1')).toBe(reply);
  });

  it('a guarded reply naming a bus port, or a host and port side by side, is refused', async () => {
    const { h, self, next } = await harness();
    for (const reply of [bulk(`link to ${self.ip}:${self.cport}`), `*2\r\n${bulk(self.ip)}:${self.port}\r\n`]) {
      h.clientSends(encodeCommand(['CLUSTER', 'LINKS']));
      h.redisSends(reply);
      await flush();
      expect(next().toString('latin1')).toBe(`-${REPLY_ADDRESS_ERROR}\r\n`);
    }
  });

  it('an error of a guarded command names the proxy, not the node; MOVED is left to middleware-redirect', async () => {
    const { h, self, proxy, next } = await harness();
    h.clientSends(encodeCommand(['CLUSTER', 'MEET', '127.199.0.1', '6391']));
    h.redisSends(`-ERR Invalid node address specified: ${self.ip}:${self.port}\r\n`);
    await flush();
    expect(next().toString('latin1')).toBe(`-ERR Invalid node address specified: ${proxy.text}\r\n`);
    h.clientSends(encodeCommand(['CLUSTER', 'LINKS']));
    h.redisSends(`-ERR bus ${self.ip}:${self.cport}\r\n`);
    await flush();
    expect(next().toString('latin1')).toBe(`-${REPLY_ADDRESS_ERROR}\r\n`);
    h.clientSends(encodeCommand(['CLUSTER', 'COUNTKEYSINSLOT', '1']));
    h.redisSends(`-MOVED 1 ${self.ip}:${self.port}\r\n`);
    await flush();
    expect(next().toString('latin1')).toBe(`-MOVED 1 ${self.ip}:${self.port}\r\n`);
  });

  it('SLOWLOG, LATENCY, MEMORY, CLUSTER LINKS replies without node endpoints pass byte for byte', async () => {
    const { h, next } = await harness();
    const replies: Array<[string[], string]> = [
      [
        ['SLOWLOG', 'GET'],
        `*1\r\n*6\r\n:1\r\n:1700000000\r\n:15000\r\n*1\r\n${bulk('DEBUG')}${bulk('127.0.0.1:45956')}${bulk('')}`,
      ],
      [['LATENCY', 'DOCTOR'], bulk('Dave, no latency spike was observed')],
      [['MEMORY', 'DOCTOR'], bulk("Hi Sam, I can't find any memory issue")],
      [['CLUSTER', 'LINKS'], `*1\r\n*4\r\n${bulk('direction')}${bulk('to')}${bulk('node')}${bulk('a'.repeat(40))}`],
    ];
    for (const [cmd, reply] of replies) {
      h.clientSends(encodeCommand(cmd));
      h.redisSends(reply);
      await flush();
      expect(next().toString('latin1'), cmd.join(' ')).toBe(reply);
    }
  });

  it('MONITOR is refused by the proxy and never reaches Redis; the session goes on', async () => {
    const { h, next } = await harness();
    h.clientSends(encodeCommand(['MONITOR']), encodeCommand(['PING']));
    h.redisSends('+PONG\r\n');
    await flush();
    expect(next().toString('latin1')).toBe(
      '-ERR slotrelay: MONITOR is not available through the proxy (its lines name Redis nodes)\r\n+PONG\r\n',
    );
    expect(h.toRedis()).toBe(encodeCommand(['PING']).toString('latin1'));
  });

  it('CLIENT LIST queued in MULTI: laddr rewritten inside the EXEC array', async () => {
    const { h, self, proxy, next } = await harness();
    h.clientSends(encodeCommand(['MULTI']), encodeCommand(['CLIENT', 'LIST']), encodeCommand(['EXEC']));
    h.redisSends('+OK\r\n+QUEUED\r\n', `*1\r\n${bulk(`id=1 laddr=${self.ip}:${self.port} fd=8\n`)}`);
    await flush();
    expect(next().toString('latin1')).toBe(`+OK\r\n+QUEUED\r\n*1\r\n${bulk(`id=1 laddr=${proxy.text} fd=8\n`)}`);
  });
});

describe('CONFIG GET queued in MULTI', () => {
  it('loses its address parameters inside the EXEC array; other elements are kept', async () => {
    const { h, self, next } = await harness();
    h.clientSends(
      encodeCommand(['MULTI']),
      encodeCommand(['GET', 'k']),
      encodeCommand(['CONFIG', 'GET', '*port*']),
      encodeCommand(['EXEC']),
    );
    h.redisSends('+OK\r\n+QUEUED\r\n+QUEUED\r\n');
    h.redisSends(
      `*2\r\n${bulk('port 1')}*4\r\n${bulk('port')}${bulk(String(self.port))}${bulk('maxmemory')}${bulk('0')}`,
    );
    await flush();
    expect(next().toString('latin1')).toBe(
      `+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n${bulk('port 1')}*2\r\n${bulk('maxmemory')}${bulk('0')}`,
    );
  });
});

describe('a static map without a topology yet', () => {
  it("still knows its entries' Redis addresses: CLIENT LIST laddr becomes the proxy's", async () => {
    const entries = [
      { redis: { host: '127.109.0.1', port: 7001 }, proxy: { host: '127.199.0.1', port: 6391 } },
      { redis: { host: '127.109.0.2', port: 7002 }, proxy: { host: '127.199.0.1', port: 6392 } },
    ];
    const map = new AddressMap({ mode: 'static', entries, upstream: entries[0]!.redis }, null);
    const h = await sessionHarness({
      middleware: [new ClusterCmdsMiddleware(asService(stubTopology(map)), listenerInfo())],
    });
    const next = outputReader(h.client);
    h.clientSends(encodeCommand(['CLIENT', 'INFO']));
    h.redisSends(bulk('id=3 addr=127.109.0.9:50000 laddr=127.109.0.1:7001 fd=8\n'));
    await flush();
    expect(next().toString('latin1')).toBe(bulk('id=3 addr=127.109.0.9:50000 laddr=127.199.0.1:6391 fd=8\n'));
  });
});
