import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { DEFAULT_MIDDLEWARE } from '@slotrelay/host';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { redisCli, splitRedirects } from '../support/redis-cli.js';

// The example third-party middleware, loaded by its folder path as a deployment would.
const READ_ONLY = fileURLToPath(new URL('../../examples/read-only', import.meta.url));
const K = '{e2e-ro}';

describe('examples/read-only through a real cluster', () => {
  let fleet: TestFleet;
  let direct: Cluster;
  let viaProxy: Cluster;

  beforeAll(async () => {
    const cluster = sharedCluster();
    direct = new Cluster(cluster.seeds.map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) })));
    await direct.set(`${K}:a`, 'before');
    fleet = await startFleet({ seeds: cluster.seeds.slice(0, 2), middleware: [...DEFAULT_MIDDLEWARE, READ_ONLY] });
    viaProxy = new Cluster([{ host: '127.0.0.1', port: fleet.ports[0]! }], { redisOptions: { protocol: 3 } });
  });
  afterAll(async () => {
    viaProxy?.disconnect();
    await direct?.del(`${K}:a`);
    direct?.disconnect();
    await fleet?.stop();
  });

  it('ioredis (RESP3): reads pass, a write gets -NOPERM and changes nothing', async () => {
    expect(await viaProxy.get(`${K}:a`)).toBe('before');
    await expect(viaProxy.set(`${K}:a`, 'after')).rejects.toThrow("NOPERM this proxy is read-only: 'set' may write");
    expect(await direct.get(`${K}:a`)).toBe('before');
  });

  it('ioredis MULTI/EXEC with a write: EXEC answers EXECABORT and nothing of the transaction runs', async () => {
    const tx = viaProxy.multi().get(`${K}:a`).incr(`${K}:n`);
    await expect(tx.exec()).rejects.toThrow('EXECABORT Transaction discarded because of previous errors.');
    expect(await direct.exists(`${K}:n`)).toBe(0);
    expect(await viaProxy.multi().get(`${K}:a`).exec()).toEqual([[null, 'before']]);
  });

  it('redis-cli -c: the same answers over RESP2', async () => {
    const { replies } = splitRedirects(
      await redisCli(['-c', '-p', String(fleet.ports[1])], `GET ${K}:a\nDEL ${K}:a\nMULTI\nSET ${K}:a x\nEXEC\n`),
    );
    expect(replies).toEqual([
      'before',
      "NOPERM this proxy is read-only: 'del' may write",
      'OK',
      "NOPERM this proxy is read-only: 'set' may write",
      'EXECABORT Transaction discarded because of previous errors.',
    ]);
    expect(await direct.get(`${K}:a`)).toBe('before');
  });
});
