import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPlain } from '@slotrelay/core/internal';
import { startCluster, type LocalCluster } from '@slotrelay/local-cluster';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { pollUntil } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';

// Issue 15: the connection's `timeout`, as Redis's own: an idle client is closed without a reply;
// subscribers and clients blocked on a reply are spared.
describe('connections[].timeout closes idle clients as Redis does', () => {
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let port: number;
  const open: RawClient[] = [];
  const connect = async () => {
    const c = await RawClient.connect(port);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startCluster({ masters: 1, replicasPerMaster: 0 });
    fleet = await startFleet({
      seeds: cluster.seeds,
      mappings: 'static',
      nodes: [cluster.nodes[0]!],
      edit: (c) => (c.connections[0]!.timeout = 1),
    });
    port = fleet.ports[0]!;
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await fleet?.stop();
    await cluster?.stop();
  });

  it('an idle client is closed without a reply; a SUBSCRIBEd client and one blocked in BLPOP k 0 are not', async () => {
    const idle = await connect();
    expect(await idle.call('PING')).toBe('PONG');
    const subscriber = await connect();
    expect(await subscriber.call('SUBSCRIBE', 'idle-ch')).toEqual(['subscribe', 'idle-ch', 1]);
    const blocked = await connect();
    blocked.send('*3\r\n$5\r\nBLPOP\r\n$6\r\nidle-k\r\n$1\r\n0\r\n');
    // A client connected after the other two, and closed for idling: their idle time passed too.
    const later = await connect();
    await pollUntil('the idle clients to be closed', () => idle.closed && later.closed);
    expect(subscriber.closed).toBe(false);
    expect(blocked.closed).toBe(false);

    const control = await connect();
    expect(await control.call('PUBLISH', 'idle-ch', 'hi')).toBe(1);
    expect(toPlain(await subscriber.reply())).toEqual(['message', 'idle-ch', 'hi']);
    expect(await control.call('LPUSH', 'idle-k', 'v')).toBe(1);
    expect(toPlain(await blocked.reply())).toEqual(['idle-k', 'v']);
  });
});
