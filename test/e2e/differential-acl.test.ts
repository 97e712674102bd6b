import { afterAll, beforeAll, describe, it } from 'vitest';
import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { suiteSeed } from '../support/differential/prng.js';
import { type Targets, delKeys, expectIdentical, startTargets } from '../support/differential/runner.js';
import { req } from '../support/differential/script-client.js';

// Issue 16, item 3: ACL users. Shared upstream connections are keyed by ACL user, and AUTH (or
// HELLO … AUTH) pins a session: a read-only user's client must get NOPERM for its writes while the
// default user's clients beside it on the same node keep writing, and a failed AUTH must change
// nothing. The user is created on a one-node cluster of this file's own (ACL changes stay here).
describe('differential: ACL users beside default-user clients', () => {
  const seed = suiteSeed();
  let cluster: LocalCluster;
  let targets: Targets;
  let port: number;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 1, replicasPerMaster: 0 });
    port = cluster.nodes[0]!.port;
    await cluster.cli(0, 'ACL', 'SETUSER', 'diffro', 'reset', 'on', '>pw', '~*', '+@read', '+@connection');
    targets = await startTargets(cluster.seeds, cluster.nodes);
  });
  afterAll(async () => {
    await targets?.stop();
    await cluster?.stop();
  });

  it('AUTH and HELLO AUTH as a read-only user, a failed AUTH, and back to default, among default-user clients', async () => {
    const keys = ['{acl}:k', ...Array.from({ length: 4 }, (_, i) => `{acl}:d${i}`)];
    await expectIdentical(
      {
        name: 'acl',
        async reset(run) {
          await delKeys(run, port, keys);
          const a = await run.admin(port);
          await a.call('SET', '{acl}:k', 'v0');
        },
        cleanup: (run) => delKeys(run, port, keys),
        async run(run) {
          const scripts = {
            'auth-readonly': [
              req(['GET', '{acl}:k']),
              req(['AUTH', 'diffro', 'pw']),
              req(['GET', '{acl}:k']),
              req(['SET', '{acl}:k', 'ro']),
              req(['ACL', 'WHOAMI']),
              req(['AUTH', 'diffro', 'wrong']),
              req(['SET', '{acl}:k', 'ro2']),
              req(['AUTH', 'default', 'any']),
              req(['ACL', 'WHOAMI']),
            ],
            'hello-auth-readonly': [
              req(['HELLO', '3', 'AUTH', 'diffro', 'pw'], { mask: 'hello' }),
              req(['SET', '{acl}:k', 'ro']),
              req(['GET', '{acl}:k']),
              req(['ACL', 'WHOAMI']),
              req(['RESET']),
              req(['ACL', 'WHOAMI']),
            ],
            'auth-fails': [
              req(['AUTH', 'diffro', 'nope']),
              req(['HELLO', '3', 'AUTH', 'nobody', 'x']),
              req(['ACL', 'WHOAMI']),
              req(['INCR', '{acl}:d3']),
            ],
          };
          await Promise.all([
            ...Object.entries(scripts).flatMap(([name, script]) =>
              (['whole', 'bytes'] as const).map(async (split) => {
                const c = await run.client(`${name}-${split}`, port);
                await c.run(script, split);
              }),
            ),
            ...[0, 1, 2].map(async (i) => {
              const c = await run.client(`default${i}`, port);
              for (let round = 0; round < 20; round++) {
                await c.run(
                  [req(['SET', `{acl}:d${i}`, `r${round}`]), req(['GET', `{acl}:d${i}`]), req(['ACL', 'WHOAMI'])],
                  { random: 3 },
                );
              }
            }),
          ]);
        },
      },
      targets.all,
      seed,
    );
  });
});
