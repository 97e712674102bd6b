import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, validateConfig } from '@slotrelay/host';

// Config files as an operator writes them: JSON or YAML, secrets from the environment, every
// problem reported at once (one line each), instance IDs from a StatefulSet pod's name.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
const write = (ext: string, text: string) => {
  const file = path.join(dir, `c${n++}.${ext}`);
  fs.writeFileSync(file, text);
  return file;
};
const errorsOf = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.lines;
    throw e;
  }
  throw new Error('no ConfigError');
};

const yamlConfig = (extra = '') => `# the same fleet as in JSON
connections:
  - name: orders
    type: RedisCluster
    redisServers: ["127.0.0.1:7000"]
    mappings: dynamic
    clusterMembers: [slotrelay-0.slotrelay:6379, slotrelay-1.slotrelay:6379, slotrelay-2.slotrelay:6379]
    localPort: 6379
${extra}`;

describe('config files', () => {
  it('YAML (.yaml, .yml) loads to the same config as its JSON', () => {
    const viaYaml = loadConfigFile(write('yaml', yamlConfig('    instanceId: 2\n')), {});
    const json = JSON.stringify({
      connections: [
        {
          name: 'orders',
          type: 'RedisCluster',
          redisServers: ['127.0.0.1:7000'],
          mappings: 'dynamic',
          clusterMembers: ['slotrelay-0.slotrelay:6379', 'slotrelay-1.slotrelay:6379', 'slotrelay-2.slotrelay:6379'],
          localPort: 6379,
          instanceId: 2,
        },
      ],
    });
    expect(loadConfigFile(write('json', json), {})).toEqual(viaYaml);
    expect(loadConfigFile(write('yml', yamlConfig('    instanceId: 2\n')), {})).toEqual(viaYaml);
  });

  it('YAML syntax errors name the line; a repeated key is one', () => {
    const lines = errorsOf(() => loadConfigFile(write('yaml', 'connections:\n  - name: a\n    name: b\n'), {}));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/is not valid YAML at line 3, column 5: .*[Uu]nique/);
  });

  it('secrets may be {"env": NAME}: resolved from the environment; a missing variable is an error naming it', () => {
    const file = write(
      'yaml',
      `${yamlConfig('    instanceId: 1\n    redisPassword: { env: REDIS_PASSWORD }\n')}adminPassword:\n  env: ADMIN_PASSWORD\n`,
    );
    const c = loadConfigFile(file, { REDIS_PASSWORD: 'r-secret', ADMIN_PASSWORD: 'a-secret' });
    expect(c.connections[0]!.redisPassword).toBe('r-secret');
    expect(c.adminPassword).toBe('a-secret');
    expect(errorsOf(() => loadConfigFile(file, { REDIS_PASSWORD: 'r-secret' }))).toEqual([
      'config: adminPassword: the environment variable ADMIN_PASSWORD is not set (or is empty)',
    ]);
    // Only secret fields read the environment; anything else shaped like a reference is the schema's.
    const other = write('yaml', yamlConfig('    instanceId: 1\n    localAddress: { env: ADDRESS }\n'));
    expect(errorsOf(() => loadConfigFile(other, { ADDRESS: '127.0.0.1' }))).toEqual([
      'config: connections[0].localAddress should be string, instead got {"env":"ADDRESS"}',
    ]);
  });

  it('every schema error is reported, one line each; an unknown field gets a did-you-mean, not a "missing" line', () => {
    const file = write(
      'json',
      JSON.stringify({
        connections: [
          {
            name: 'a',
            type: 'RedisCluster',
            redisServers: ['127.0.0.1:7000'],
            mappings: 'dynamic',
            clusterMembers: ['127.0.0.1:6391'],
            instanceId: 1,
            localport: 6391,
            maxClients: 0,
            redisPassword: 12345678,
          },
        ],
        topologyCheckIntervalMS: 100,
        colour: 'blue',
      }),
    );
    expect(errorsOf(() => loadConfigFile(file, {})).sort()).toEqual(
      [
        "config: connections[0] has an unknown field 'localport' (did you mean 'localPort'?)",
        "config: the top level has an unknown field 'topologyCheckIntervalMS' (did you mean 'topologyCheckIntervalMs'?)",
        "config: the top level has an unknown field 'colour'",
        'config: connections[0].maxClients must be >= 1, instead got 0',
        // The value of a secret is never quoted, even a wrong one.
        'config: connections[0].redisPassword should be string, instead got a value of type number',
      ].sort(),
    );
  });

  it('problems of several connections are all reported, one line per connection', () => {
    const base = {
      type: 'RedisCluster',
      redisServers: ['127.0.0.1:7000'],
      mappings: 'dynamic',
      clusterMembers: ['127.0.0.1:6391', '127.0.0.1:6392'],
    };
    const lines = errorsOf(() =>
      validateConfig(
        {
          connections: [
            { ...base, name: 'a', instanceId: 3, localPort: 6391 },
            { ...base, name: 'b', redisServers: ['nohost'], instanceId: 1, localPort: 6392 },
          ],
        },
        {},
      ),
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/connections\[0\]\.instanceId should be between 1 and 2/);
    expect(lines[1]).toMatch(/connections\[1\]\.redisServers\[0\] should be host:port/);
  });
});

describe('instance IDs of a StatefulSet', () => {
  const file = () => write('yaml', yamlConfig('    instanceIdFrom: ordinal\n'));

  it('"instanceIdFrom": "ordinal" takes the trailing -N of HOSTNAME and uses N + 1', () => {
    const f = file();
    for (const [pod, id] of [
      ['slotrelay-0', 1],
      ['slotrelay-2', 3],
      ['proxy-fleet-a-1', 2],
    ] as const)
      expect(loadConfigFile(f, { HOSTNAME: pod }).connections[0]!.instanceId).toBe(id);
  });

  it('precedence: instanceId in the file, then SLOTRELAY_INSTANCE_ID / instance_id, then the ordinal', () => {
    expect(loadConfigFile(file(), { HOSTNAME: 'slotrelay-0', instance_id: '3' }).connections[0]!.instanceId).toBe(3);
    expect(
      loadConfigFile(file(), { HOSTNAME: 'slotrelay-0', SLOTRELAY_INSTANCE_ID: '2', instance_id: '3' }).connections[0]!
        .instanceId,
    ).toBe(2);
    const pinned = write('yaml', yamlConfig('    instanceIdFrom: ordinal\n    instanceId: 2\n'));
    expect(loadConfigFile(pinned, { HOSTNAME: 'slotrelay-0', instance_id: '3' }).connections[0]!.instanceId).toBe(2);
  });

  it('a clear error: no trailing number, an ordinal past clusterMembers, a pod name given as the instance ID', () => {
    expect(errorsOf(() => loadConfigFile(file(), { HOSTNAME: 'slotrelay' }))).toEqual([
      `config: connections[0].instanceIdFrom is "ordinal" but the host name 'slotrelay' (HOSTNAME) does not end in -N, as a StatefulSet pod's name does (<statefulset>-0, -1 …)`,
    ]);
    expect(errorsOf(() => loadConfigFile(file(), { HOSTNAME: 'slotrelay-3' }))[0]).toMatch(
      /host name 'slotrelay-3' gives instance ID 4 \(ordinal 3 \+ 1\), but clusterMembers has only 3 entries/,
    );
    expect(errorsOf(() => loadConfigFile(file(), { instance_id: 'slotrelay-2' }))[0]).toMatch(
      /should be a positive integer, instead got 'slotrelay-2' \(for a StatefulSet pod name, .*"instanceIdFrom": "ordinal"\)/,
    );
  });
});
