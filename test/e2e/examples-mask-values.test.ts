import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { DEFAULT_MIDDLEWARE } from '@slotrelay/host';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { redisCli, splitRedirects } from '../support/redis-cli.js';

// The example third-party middleware, loaded by its folder path, configured in the config file.
const MASK_VALUES = fileURLToPath(new URL('../../examples/mask-values', import.meta.url));
const K = '{e2e-mask}';
const SSN = `user:${K}1:ssn`;
const CARD = `user:${K}2:ssn`;
const PLAIN = `plain:${K}`;

describe('examples/mask-values through a real cluster', () => {
  let fleet: TestFleet;
  let direct: Cluster;
  const clients: Cluster[] = [];
  const viaProxy = (auth?: { username: string; password: string }) => {
    const c = new Cluster([{ host: '127.0.0.1', port: fleet.ports[0]! }], { redisOptions: { protocol: 3, ...auth } });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const cluster = sharedCluster();
    // An exempt ACL user on every node (ACL users are per node in a cluster).
    for (const n of cluster.nodes) {
      const r = new Redis({ host: n.host, port: n.port });
      await r.call('ACL', 'SETUSER', 'e2e-auditor', 'on', '>pw', '~*', '&*', '+@all');
      r.disconnect();
    }
    direct = new Cluster(cluster.seeds.map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) })));
    await direct.set(SSN, '123-45-6789');
    await direct.hset(CARD, 'number', '4111', 'owner', 'Ann');
    await direct.set(PLAIN, 'p');
    fleet = await startFleet({
      seeds: cluster.seeds.slice(0, 2),
      middleware: [...DEFAULT_MIDDLEWARE, MASK_VALUES],
      edit: (c) => {
        c.middlewareConfig = {
          'mask-values': { patterns: ['user:*:ssn'], mask: '****', exemptUsers: ['e2e-auditor'] },
        };
      },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await direct?.del(SSN, CARD, PLAIN);
    direct?.disconnect();
    await fleet?.stop();
    for (const n of sharedCluster().nodes) {
      const r = new Redis({ host: n.host, port: n.port });
      await r.call('ACL', 'DELUSER', 'e2e-auditor');
      r.disconnect();
    }
  });

  it('ioredis (RESP3), default user: values masked per command and per key, other reads refused', async () => {
    const c = viaProxy();
    expect(await c.get(SSN)).toBe('****');
    expect(await c.mget(SSN, PLAIN)).toEqual(['****', 'p']);
    expect(await c.hgetall(CARD)).toEqual({ number: '****', owner: '****' });
    expect(await c.hget(CARD, 'owner')).toBe('****');
    await expect(c.dump(SSN)).rejects.toThrow(
      `NOPERM slotrelay mask-values: 'dump' would reveal the masked key '${SSN}'`,
    );
  });

  it('ioredis MULTI/EXEC: each result masked at its own index', async () => {
    const c = viaProxy();
    const got = await c.multi().get(PLAIN).get(SSN).hvals(CARD).strlen(SSN).exec();
    expect(got).toEqual([
      [null, 'p'],
      [null, '****'],
      [null, ['****', '****']],
      [null, 11],
    ]);
  });

  it('ioredis as the exempt ACL user: real values', async () => {
    const c = viaProxy({ username: 'e2e-auditor', password: 'pw' });
    expect(await c.get(SSN)).toBe('123-45-6789');
    expect(await c.multi().get(SSN).hgetall(CARD).exec()).toEqual([
      [null, '123-45-6789'],
      [null, { number: '4111', owner: 'Ann' }],
    ]);
  });

  it('redis-cli -c (RESP2): masked, then real after AUTH as the exempt user', async () => {
    const { replies } = splitRedirects(
      await redisCli(
        ['-c', '-p', String(fleet.ports[1])],
        `GET ${SSN}\nHGETALL ${CARD}\nAUTH e2e-auditor pw\nGET ${SSN}\n`,
      ),
    );
    expect(replies).toEqual(['****', 'number', '****', 'owner', '****', 'OK', '123-45-6789']);
  });

  it('middlewareConfig changes live: new sessions use the new settings; settings the middleware refuses change nothing', async () => {
    const path = '/middlewareConfig/mask-values/mask';
    expect(await fleet.fleet.patch([{ op: 'replace', path, value: '####' }], 'file')).toBe(
      'middlewareConfig applied for new sessions',
    );
    expect(await viaProxy().get(SSN)).toBe('####');
    await expect(
      fleet.fleet.patch([{ op: 'replace', path: '/middlewareConfig/mask-values/patterns', value: 'user:*' }], 'file'),
    ).rejects.toThrow(/config change not applied: .*patterns/);
    expect(await viaProxy().get(SSN)).toBe('####');
    expect(fleet.fleet.rawConfig().middlewareConfig!['mask-values']!.patterns).toEqual(['user:*:ssn']);
  });
});
