import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RespType, encodeCommand } from '@slotrelay/core';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, freePorts, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { type Forwarder, startForwarder } from '../support/forwarder.js';
import { RawClient } from '../support/raw-client.js';

// Discovery happens on the first client connection. When no seed answers, the client gets a clear
// error that names no Redis address, the listener stays up, and a later connection tries again —
// here the seed only becomes reachable after the first failures (a forwarder starts on its port).
describe('discovery when no seed answers yet', () => {
  let fleet: TestFleet;
  let seedPort: number;
  let forwarder: Forwarder | null = null;

  beforeAll(async () => {
    // freePorts(n) returns n ports.
    seedPort = (await freePorts(1))[0]!;
    fleet = await startFleet({ seeds: [`127.0.0.1:${seedPort}`] });
  });
  afterAll(async () => {
    await fleet?.stop();
    await forwarder?.close();
  });

  async function getReply(port: number): Promise<{ type: number; text: string | undefined }> {
    const c = await RawClient.connect(port);
    try {
      c.send(encodeCommand(['CLUSTER', 'MYID']));
      const r = await c.reply();
      return { type: r.type, text: r.text ?? r.data?.toString() };
    } finally {
      c.close();
    }
  }

  it('answers a clear error without any Redis address, and keeps listening', async () => {
    const redisPorts = sharedCluster().nodes.map((n) => n.port);
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await getReply(fleet.ports[0]!);
      expect(r.type).toBe(RespType.Error);
      expect(r.text).toBe(
        'ERR slotrelay: cannot read the cluster topology from any Redis server (cannot connect to Redis: ECONNREFUSED); the next connection tries again',
      );
      expect(r.text).not.toContain(String(seedPort));
      for (const p of redisPorts) expect(r.text).not.toContain(String(p));
    }
    expect(fleet.fleet.listeners.size).toBe(6);
  });

  it('discovers the cluster on a later connection once a seed answers', async () => {
    const target = sharedCluster().nodes[0]!;
    forwarder = await startForwarder(seedPort, target);
    // Every proxy reaches its own node (the map comes from the seed's CLUSTER NODES): six node IDs.
    const ids = await pollUntil('every proxy to serve', async () => {
      const got = await Promise.all(fleet.ports.map((p) => getReply(p)));
      return got.every((r) => r.type !== RespType.Error) ? got.map((r) => r.text) : undefined;
    });
    expect(new Set(ids).size).toBe(6);
    expect(new Set(ids)).toEqual(new Set(sharedCluster().nodes.map((n) => n.id)));
  });
});
