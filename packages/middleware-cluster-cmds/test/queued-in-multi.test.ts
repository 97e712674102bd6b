import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Middleware, type RespNode, decodeReply, encodeCommand, encodeReply, encodeSimple } from '@slotrelay/core';
import { sessionHarness } from '@slotrelay/testkit';
import {
  ClusterCmdsMiddleware,
  type ReplyKind,
  mapResolver,
  replyKindOf,
  rewriteReplyNode,
} from '@slotrelay/middleware-cluster-cmds';
import { expectOneFrame, expectOnlyProxies, extract } from './support/addresses.js';
import {
  asService,
  fixture,
  listenerInfo,
  manifest,
  mapFor,
  outputReader,
  proxyAddress,
  someChunkings,
  stubTopology,
  topologyOf,
} from './support/fixtures.js';

const ip = topologyOf('ip');
const askedId = manifest.entries.find((e) => e.set === 'ip' && e.file.endsWith('resp2/cluster-nodes.resp'))!.askedId;
const ipMap = () => mapFor(ip, { askedId });
const proxies = (() => {
  const all = Array.from({ length: ip.length + 2 }, (_, i) => proxyAddress('ipv4', i));
  return { hosts: new Set(all.map((a) => a.host)), ports: new Set(all.map((a) => a.port)) };
})();
const NODES = fixture('ip/resp2/cluster-nodes.resp');
const SLOTS = fixture('ip/resp2/cluster-slots.resp');
const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

/** Answers LOCALPING itself: a request Redis never sees, inside the transaction. */
const local: Middleware = {
  name: 'local',
  commands: ['LOCALPING'],
  requests: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++)
        if (b.frames[i]!.command === 'LOCALPING') s.answer(b.frames[i]!, encodeSimple('LOCAL'));
      return b;
    }),
};

async function harness(extra: Middleware[] = [], holdLimit?: number) {
  const stub = stubTopology(ipMap());
  const h = await sessionHarness({
    middleware: [new ClusterCmdsMiddleware(asService(stub), listenerInfo()), ...extra],
    ...(holdLimit ? { session: { holdLimit } } : {}),
  });
  return { h, stub };
}

/** `*n` of the given element bytes. */
const execArray = (...items: Buffer[]) => Buffer.concat([Buffer.from(`*${items.length}\r\n`), ...items]);

/** The EXEC array the client got: the last frame of its output. */
function lastArray(out: Buffer, skip: number): RespNode {
  return decodeReply(out.subarray(skip));
}

describe('CLUSTER commands queued in MULTI: rewritten inside the EXEC array', () => {
  for (const entry of manifest.entries.filter((e) => e.file.endsWith('/multi-exec.resp'))) {
    // Every boundary for the `ip` set; the other sets (same shapes, other addresses) every 11th.
    const every = entry.set === 'ip' ? 1 : 11;
    it(`${entry.file}: captured MULTI/SLOTS/PING/NODES/SHARDS/ROLE/EXEC, ${every === 1 ? 'at every split' : `whole, byte by byte, every ${every}th split`}`, async () => {
      const input = fixture(entry.file);
      const nodes = topologyOf(entry.set);
      const style = entry.set === 'ipv6' ? 'ipv6' : entry.set === 'hostname' ? 'dns' : 'ipv4';
      const m = mapFor(nodes, { style, askedId: entry.askedId });
      const stub = stubTopology(m);
      const h = await sessionHarness({ middleware: [new ClusterCmdsMiddleware(asService(stub), listenerInfo())] });
      if (entry.protocol === 3) {
        h.clientSends(cmd('HELLO', '3'));
        h.redisSends('%1\r\n$5\r\nproto\r\n:3\r\n');
      }
      const queued = entry.commands.slice(1, -1);
      const prefix = `+OK\r\n${'+QUEUED\r\n'.repeat(queued.length)}`;
      const execStart = Buffer.byteLength(prefix);
      // What each element must become: the same rewrite as outside a transaction.
      const inputExec = decodeReply(input.subarray(execStart));
      const all = Array.from({ length: nodes.length + 2 }, (_, i) => proxyAddress(style, i));
      const px = { hosts: new Set(all.map((a) => a.host)), ports: new Set(all.map((a) => a.port)) };
      const next = outputReader(h.client);
      let first: Buffer | null = null;
      for (const { label, chunks } of someChunkings(input, every)) {
        h.clientSends(...entry.commands.map((c) => encodeCommand(c)));
        h.redisSends(...chunks);
        const out = next();
        if (first !== null) {
          expect(out.equals(first), label).toBe(true);
          continue;
        }
        first = Buffer.from(out);
        expect(out.toString('latin1', 0, execStart)).toBe(prefix);
        const exec = expectOneFrame(out.subarray(execStart), input[execStart]!, label);
        expect(exec.items!.length).toBe(queued.length);
        for (const [i, c] of queued.entries()) {
          const kind = replyKindOf(c.map((a) => Buffer.from(a)));
          if (kind === null) {
            expect(encodeReply(exec.items![i]!).equals(encodeReply(inputExec.items![i]!))).toBe(true);
            continue;
          }
          const expected = decodeReply(input.subarray(execStart)).items![i]!; // a fresh copy to rewrite
          rewriteReplyNode(expected, kind, { resolve: mapResolver(m, { strict: true }), tls: false });
          expect(encodeReply(exec.items![i]!).equals(encodeReply(expected)), `${label}: element ${i}`).toBe(true);
          const found = extract(kind, exec.items![i]!);
          expect(found.addresses.length).toBeGreaterThan(0);
          expectOnlyProxies(found, px, nodes, `${label}: element ${i}`);
        }
      }
      expect(stub.scans).toBe(0);
    });
  }

  it('counts requests that arrive in batches with no watched command (SET a 1 alone) toward the EXEC position', async () => {
    const { h } = await harness();
    h.clientSends(cmd('MULTI'));
    h.clientSends(cmd('SET', 'a', '1'));
    h.clientSends(cmd('GET', 'a'));
    h.clientSends(cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    h.redisSends(
      '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n',
      execArray(Buffer.from('+OK\r\n'), Buffer.from('$1\r\n1\r\n'), NODES),
    );
    const out = h.client.written();
    const exec = lastArray(out, Buffer.byteLength('+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n'));
    expect(exec.items!.slice(0, 2).map((n) => encodeReply(n).toString())).toEqual(['+OK\r\n', '$1\r\n1\r\n']);
    expectOnlyProxies(extract('nodes', exec.items![2]!), proxies, ip);
  });

  it('a nested MULTI (an error, nothing queued) does not shift positions', async () => {
    const { h } = await harness();
    h.clientSends(
      cmd('MULTI') +
        cmd('SET', 'a', '1') +
        cmd('CLUSTER', 'SLOTS') +
        cmd('MULTI') +
        cmd('CLUSTER', 'SLOTS') +
        cmd('EXEC'),
    );
    const prefix = '+OK\r\n+QUEUED\r\n+QUEUED\r\n-ERR MULTI calls can not be nested\r\n+QUEUED\r\n';
    h.redisSends(prefix, execArray(Buffer.from('+OK\r\n'), SLOTS, SLOTS));
    const exec = lastArray(h.client.written(), Buffer.byteLength(prefix));
    expect(encodeReply(exec.items![0]!).toString()).toBe('+OK\r\n');
    expectOnlyProxies(extract('slots', exec.items![1]!), proxies, ip);
    expectOnlyProxies(extract('slots', exec.items![2]!), proxies, ip);
  });

  it('a request an earlier middleware answers inside MULTI takes no EXEC position', async () => {
    const stub = stubTopology(ipMap());
    const h = await sessionHarness({ middleware: [local, new ClusterCmdsMiddleware(asService(stub), listenerInfo())] });
    h.clientSends(cmd('MULTI') + cmd('GET', 'k') + cmd('LOCALPING') + cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    expect(h.toRedis()).not.toContain('LOCALPING');
    // The GET value is shaped like CLUSTER NODES: only the counted place may be rewritten.
    const userValue = encodeReply({ type: 0x24, data: decodeReply(NODES).data! });
    h.redisSends('+OK\r\n+QUEUED\r\n+QUEUED\r\n', execArray(userValue, NODES));
    const skip = Buffer.byteLength('+OK\r\n+QUEUED\r\n+LOCAL\r\n+QUEUED\r\n');
    expect(h.toClient().slice(0, skip)).toBe('+OK\r\n+QUEUED\r\n+LOCAL\r\n+QUEUED\r\n');
    const exec = lastArray(h.client.written(), skip);
    expect(encodeReply(exec.items![0]!).equals(userValue)).toBe(true);
    expectOnlyProxies(extract('nodes', exec.items![1]!), proxies, ip);
  });

  it('a request a later middleware answers inside MULTI: the miscounted reply is found by its shape', async () => {
    const { h } = await harness([local]);
    h.clientSends(cmd('MULTI') + cmd('LOCALPING') + cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    expect(h.toRedis()).not.toContain('LOCALPING');
    h.redisSends('+OK\r\n+QUEUED\r\n', execArray(NODES));
    const skip = Buffer.byteLength('+OK\r\n+LOCAL\r\n+QUEUED\r\n');
    expect(h.toClient().slice(0, skip)).toBe('+OK\r\n+LOCAL\r\n+QUEUED\r\n');
    expectOnlyProxies(extract('nodes', lastArray(h.client.written(), skip).items![0]!), proxies, ip);
  });

  it('a GET value shaped like a CLUSTER reply is left alone when the counted place holds the real one', async () => {
    const { h } = await harness();
    h.clientSends(cmd('MULTI') + cmd('GET', 'cached-topology') + cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    const userValue = encodeReply({ type: 0x24, data: decodeReply(NODES).data! });
    h.redisSends('+OK\r\n+QUEUED\r\n+QUEUED\r\n', execArray(userValue, NODES));
    const exec = lastArray(h.client.written(), Buffer.byteLength('+OK\r\n+QUEUED\r\n+QUEUED\r\n'));
    expect(encodeReply(exec.items![0]!).equals(userValue)).toBe(true);
    expectOnlyProxies(extract('nodes', exec.items![1]!), proxies, ip);
  });

  it('a request streamed in pieces (larger than the hold limit) counts once', async () => {
    const { h } = await harness([], 16);
    const big = encodeCommand(['SET', 'big', 'v'.repeat(500)]);
    h.clientSends(cmd('MULTI'));
    for (let i = 0; i < big.length; i += 40) h.clientSends(big.subarray(i, i + 40));
    h.clientSends(cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    h.redisSends('+OK\r\n+QUEUED\r\n+QUEUED\r\n', execArray(Buffer.from('+OK\r\n'), NODES));
    const exec = lastArray(h.client.written(), Buffer.byteLength('+OK\r\n+QUEUED\r\n+QUEUED\r\n'));
    expect(encodeReply(exec.items![0]!).toString()).toBe('+OK\r\n');
    expectOnlyProxies(extract('nodes', exec.items![1]!), proxies, ip);
  });

  it('-EXECABORT passes through unchanged', async () => {
    const { h } = await harness();
    h.clientSends(cmd('MULTI') + cmd('CLUSTER', 'NODES') + cmd('NOSUCH') + cmd('EXEC'));
    const replies =
      "+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH'\r\n-EXECABORT Transaction discarded because of previous errors.\r\n";
    h.redisSends(replies);
    expect(h.toClient()).toBe(replies);
  });

  it('a null EXEC (a WATCHed key changed) passes through, `*-1` and `_` alike', async () => {
    for (const nil of ['*-1\r\n', '_\r\n']) {
      const { h } = await harness();
      h.clientSends(cmd('MULTI') + cmd('CLUSTER', 'SLOTS') + cmd('EXEC'));
      h.redisSends(`+OK\r\n+QUEUED\r\n${nil}`);
      expect(h.toClient()).toBe(`+OK\r\n+QUEUED\r\n${nil}`);
    }
  });

  it('after DISCARD, later commands are outside any transaction again', async () => {
    const { h } = await harness();
    h.clientSends(cmd('MULTI') + cmd('CLUSTER', 'NODES') + cmd('DISCARD') + cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    h.redisSends('+OK\r\n+QUEUED\r\n+OK\r\n', NODES, '-ERR EXEC without MULTI\r\n');
    const out = h.client.written();
    const start = Buffer.byteLength('+OK\r\n+QUEUED\r\n+OK\r\n');
    const end = out.indexOf('-ERR EXEC without MULTI');
    expect(out.toString('latin1', 0, start)).toBe('+OK\r\n+QUEUED\r\n+OK\r\n');
    expectOnlyProxies(extract('nodes', expectOneFrame(out.subarray(start, end), 0x24)), proxies, ip);
  });

  it('if MULTI itself failed, the CLUSTER reply comes at once and is rewritten there', async () => {
    const { h } = await harness();
    h.clientSends(cmd('MULTI') + cmd('CLUSTER', 'NODES') + cmd('EXEC'));
    h.redisSends(
      "-NOPERM this user has no permissions to run the 'multi' command\r\n",
      NODES,
      '-ERR EXEC without MULTI\r\n',
    );
    const out = h.client.written();
    const start = out.indexOf('\r\n') + 2;
    const end = out.indexOf('-ERR EXEC without MULTI');
    expectOnlyProxies(extract('nodes', expectOneFrame(out.subarray(start, end), 0x24)), proxies, ip);
  });

  it('a transaction without address-bearing commands leaves the EXEC reply untouched (no mark, no decode)', async () => {
    const { h } = await harness();
    h.clientSends(cmd('MULTI') + cmd('SET', 'k', 'v') + cmd('EXEC'));
    // Not even valid RESP inside: the EXEC reply is never decoded.
    h.redisSends('+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n');
    expect(h.toClient()).toBe('+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n');
  });

  it('kinds of every position are kept apart across two transactions in one pipeline', async () => {
    const { h } = await harness();
    h.clientSends(
      cmd('MULTI') +
        cmd('PING') +
        cmd('CLUSTER', 'SLOTS') +
        cmd('EXEC') +
        cmd('MULTI') +
        cmd('CLUSTER', 'NODES') +
        cmd('EXEC'),
    );
    const first = execArray(Buffer.from('+PONG\r\n'), SLOTS);
    h.redisSends('+OK\r\n+QUEUED\r\n+QUEUED\r\n', first, '+OK\r\n+QUEUED\r\n', execArray(NODES));
    const out = h.client.written();
    const a = Buffer.byteLength('+OK\r\n+QUEUED\r\n+QUEUED\r\n');
    const scan = decodeReply(out, a, out.indexOf('+OK\r\n+QUEUED\r\n*1\r\n', a));
    expectOnlyProxies(extract('slots', scan.items![1]!), proxies, ip);
    const b = out.indexOf('+OK\r\n+QUEUED\r\n*1\r\n', a) + Buffer.byteLength('+OK\r\n+QUEUED\r\n');
    expectOnlyProxies(extract('nodes' as ReplyKind, decodeReply(out.subarray(b)).items![0]!), proxies, ip);
  });
});
