import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TopologyService, silentLogger, tcpDialer } from '@slotrelay/core/internal';

// A replica that dies changes no route (no slot, no role moves), but STATUSCLUSTER must show its
// `fail` flag: a rescan whose nodes differ only in flags or link state replaces the map.
const A = 'a000000000000000000000000000000000000001 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383';
const B = (flags: string, link: string) =>
  `b000000000000000000000000000000000000002 127.0.0.1:7001@17001 ${flags} a000000000000000000000000000000000000001 0 0 1 ${link}`;

/** A Redis-like node answering CLUSTER NODES with `nodes()` and refusing CLUSTER SHARDS (as Redis 6 would). */
async function fakeNode(nodes: () => string): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) =>
    s.on('data', (d) => {
      for (const m of d.toString('latin1').matchAll(/NODES|SHARDS/g)) {
        const text = `${nodes()}\n`;
        s.write(m[0] === 'NODES' ? `$${Buffer.byteLength(text)}\r\n${text}\r\n` : '-ERR unknown subcommand\r\n');
      }
    }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('TopologyService node states', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it('replaces the map when only flags or link states change, and not when nothing does', async () => {
    let b = B('slave', 'connected');
    const node = await fakeNode(() => [A, b].join('\n'));
    close = node.close;
    const topology = new TopologyService({
      spec: {
        mode: 'dynamic',
        members: [
          { host: '127.0.0.1', port: 6391 },
          { host: '127.0.0.1', port: 6392 },
        ],
        instanceId: 1,
      },
      seeds: [{ host: '127.0.0.1', port: node.port }],
      dial: tcpDialer(),
      log: silentLogger,
    });
    const maps: unknown[] = [];
    const sub = topology.map$.subscribe((m) => m && maps.push(m));
    try {
      await topology.rescan('test');
      await topology.rescan('test');
      expect(maps).toHaveLength(1); // nothing changed: no new map
      b = B('slave,fail', 'disconnected');
      await topology.rescan('test');
      expect(maps).toHaveLength(2);
      const replica = topology.current!.topology!.nodes.find((n) => n.id.startsWith('b'))!;
      expect(replica.flags).toContain('fail');
      expect(replica.connected).toBe(false);
      expect(topology.mappingChanges).toBe(0); // routes are the same: not a mapping change
      b = B('slave', 'connected');
      await topology.rescan('test');
      expect(topology.current!.topology!.nodes.find((n) => n.id.startsWith('b'))!.flags).not.toContain('fail');
    } finally {
      sub.unsubscribe();
    }
  });
});
