import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AddressMap,
  type Logger,
  STILL_UNREACHABLE_LOG_MS,
  type Topology,
  UpstreamHealth,
  failureReason,
  parseClusterNodes,
  tcpDialer,
  topologyChanges,
  upstreamDialError,
} from '@slotrelay/core/internal';

function recording() {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const at =
    (level: string) =>
    (obj: object, msg = '') =>
      void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return { log, lines };
}

const node = { host: '127.0.0.1', port: 7000 };
const refused = upstreamDialError('127.0.0.1:7000', 'ECONNREFUSED');

describe('UpstreamHealth', () => {
  afterEach(() => vi.useRealTimers());

  it('logs reachable → unreachable once with the reason, repeats at most once a minute, and the way back once', () => {
    vi.useFakeTimers();
    const { log, lines } = recording();
    const h = new UpstreamHealth(log);
    h.reachable(node);
    for (let i = 0; i < 34; i++) {
      h.unreachable(node, refused);
      vi.advanceTimersByTime(1000);
    }
    expect(h.state).toBe('unreachable');
    vi.advanceTimersByTime(STILL_UNREACHABLE_LOG_MS);
    h.unreachable(node, refused);
    h.reachable(node);
    h.reachable(node);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', expect.stringMatching(/^Redis node unreachable/)],
      ['warn', 'Redis node still unreachable'],
      ['info', 'Redis node reachable again'],
    ]);
    expect(lines[0]!.obj).toMatchObject({ redis: '127.0.0.1:7000', code: 'ECONNREFUSED' });
    expect(String(lines[0]!.obj.reason)).toContain('ECONNREFUSED');
    expect(lines[2]!.obj).toMatchObject({ failures: 35 });
  });

  it('probes with PING on a connection of its own: a closed port is unreachable, a listening Redis-like server reachable', async () => {
    const { log } = recording();
    const server = net.createServer((s) => s.on('data', () => s.write('+PONG\r\n')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const h = new UpstreamHealth(log);
      expect(await h.probe({ host: '127.0.0.1', port }, tcpDialer(), 1000)).toBe(true);
      expect(h.state).toBe('reachable');
      await new Promise<void>((r) => server.close(() => r()));
      expect(await h.probe({ host: '127.0.0.1', port }, tcpDialer(), 1000)).toBe(false);
      expect(h.state).toBe('unreachable');
      expect(h.reason).toContain('ECONNREFUSED');
    } finally {
      server.close();
    }
  });

  it('names failures by a bounded reason', () => {
    expect(failureReason(refused)).toBe('ECONNREFUSED');
    expect(failureReason(upstreamDialError('h:1', 'no answer within 3000 ms'))).toBe('timeout');
    expect(failureReason(upstreamDialError('h:1', 'connection closed'))).toBe('closed');
    expect(failureReason(upstreamDialError('h:1', 'certificate has expired (CERT_HAS_EXPIRED)'))).toBe(
      'CERT_HAS_EXPIRED',
    );
    expect(failureReason(new Error('something else entirely'))).toBe('other');
  });
});

describe('topologyChanges', () => {
  const members = [1, 2, 3].map((i) => ({ host: 'proxy.test', port: 6390 + i }));
  const mapOf = (text: string) =>
    new AddressMap({ mode: 'dynamic', members, instanceId: 1 }, {
      nodes: parseClusterNodes(text),
      source: { host: '127.0.0.1', port: 7000 },
      at: 0,
    } as Topology);
  const A = 'a000000000000000000000000000000000000001';
  const B = 'b000000000000000000000000000000000000002';

  it('names a failover: the old master failed, the replica now master, and the proxy that fronts each', () => {
    const before = mapOf(
      [
        `${A} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383`,
        `${B} 127.0.0.1:7001@17001 slave ${A} 0 0 1 connected`,
      ].join('\n'),
    );
    const after = mapOf(
      [
        `${A} 127.0.0.1:7000@17000 master,fail - 0 0 1 disconnected`,
        `${B} 127.0.0.1:7001@17001 myself,master - 0 0 2 connected 0-16383`,
      ].join('\n'),
    );
    expect(topologyChanges(before, after)).toEqual([
      {
        node: A,
        change: 'changed',
        from: { role: 'master', address: '127.0.0.1:7000', proxy: 'proxy.test:6391 (instance 1)' },
        to: { role: 'master, fail', address: '127.0.0.1:7000', proxy: 'proxy.test:6391 (instance 1)' },
      },
      {
        node: B,
        change: 'changed',
        from: { role: 'replica', address: '127.0.0.1:7001', proxy: 'proxy.test:6392 (instance 2)' },
        to: { role: 'master', address: '127.0.0.1:7001', proxy: 'proxy.test:6392 (instance 2)' },
      },
    ]);
  });

  it('names nodes added and removed, and lists nothing when only slots moved', () => {
    const one = mapOf(`${A} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383`);
    const two = mapOf(
      [
        `${A} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-100`,
        `${B} 127.0.0.1:7001@17001 master - 0 0 2 connected 101-16383`,
      ].join('\n'),
    );
    expect(topologyChanges(one, two).map((c) => [c.node, c.change])).toEqual([[B, 'added']]);
    expect(topologyChanges(two, one).map((c) => [c.node, c.change])).toEqual([[B, 'removed']]);
    const moved = mapOf(`${A} 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383`);
    expect(topologyChanges(one, moved)).toEqual([]);
  });
});
