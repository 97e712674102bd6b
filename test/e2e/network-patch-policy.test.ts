import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectionConfig, type RespNode, RespType, type SlotrelayConfig, encodeCommand } from '@slotrelay/core';
import { DEFAULT_MIDDLEWARE, networkPatchRefusal } from '@slotrelay/host';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, freePorts, startFleet } from '../support/fleet.js';
import { tryConnect } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { captureLogger } from '../../packages/transport-tls/test/helpers.js';

// Issue 13: over the network (GALLIUMDATA CONFIG PATCH), an authenticated admin may tune the proxy
// but not make it run other code, listen elsewhere or relay to another host — unless the config
// FILE says `"allowNetworkPatch": true`. A refused patch has no side effect at all: no module is
// imported, no port bound, no seed dialled.

const PASSWORD = 'correct horse battery staple';

const ask = async (c: RawClient, ...args: string[]): Promise<RespNode> => {
  c.send(encodeCommand(args));
  return c.reply();
};
const patch = (c: RawClient, ops: unknown) => ask(c, 'GALLIUMDATA', 'CONFIG', 'PATCH', JSON.stringify(ops));
const text = (r: RespNode) => `${r.type === RespType.Error ? '-' : '+'}${r.text ?? r.data?.toString()}`;

/** A TCP server on loopback that counts the connections it gets (a seed nobody may dial). */
async function countingServer(): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    count: () => n,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** A middleware file that leaves a marker file when imported: importing it runs its code. */
function markerModule(dir: string): { file: string; marker: string } {
  const marker = path.join(dir, 'imported.marker');
  const file = path.join(dir, 'marker-middleware.mjs');
  fs.writeFileSync(
    file,
    `import fs from 'node:fs';\nfs.writeFileSync(${JSON.stringify(marker)}, 'imported');\nexport default {};\n`,
  );
  return { file, marker };
}

describe('network CONFIG PATCH without allowNetworkPatch', () => {
  let fleet: TestFleet;
  let admin: RawClient;
  let dir: string;
  const log = captureLogger();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-policy-'));
    fleet = await startFleet({
      seeds: sharedCluster().seeds.slice(0, 2),
      log,
      edit: (c) => void (c.adminPassword = PASSWORD),
    });
    admin = await RawClient.connect(fleet.ports[0]!);
    expect(text(await ask(admin, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('+OK');
  });
  afterAll(async () => {
    admin?.close();
    await fleet?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const hint = ' (set "allowNetworkPatch": true in the config file to allow it)';

  it('refuses a middleware list naming a file, and never imports that file', async () => {
    const { file, marker } = markerModule(dir);
    const r = await patch(admin, [{ op: 'add', path: '/middleware', value: [...DEFAULT_MIDDLEWARE, file] }]);
    expect(fs.existsSync(marker)).toBe(false);
    expect(text(r)).toBe(`-ERR config patch: over the network a patch may not change middleware${hint}`);
    expect(fleet.fleet.rawConfig()).not.toHaveProperty('middleware');
  });

  it('refuses a new connection, and its port is never bound', async () => {
    const [port] = await freePorts(1);
    const value = { ...structuredClone(fleet.config.connections[0]!), name: 'relay', localPort: port! };
    const r = await patch(admin, [{ op: 'add', path: '/connections/-', value }]);
    expect(text(r)).toBe(
      `-ERR config patch: over the network a patch may not add a connection (connections[6] 'relay')${hint}`,
    );
    expect(await tryConnect(port!)).toBe('ECONNREFUSED');
    expect(fleet.fleet.listeners.size).toBe(6);
  });

  it('refuses new seeds, and never dials them', async () => {
    const seed = await countingServer();
    try {
      const r = await patch(admin, [
        { op: 'replace', path: '/connections/1/redisServers', value: [`127.0.0.1:${seed.port}`] },
      ]);
      expect(text(r)).toBe(
        `-ERR config patch: over the network a patch may not change connections[1].redisServers${hint}`,
      );
      // An accepted patch remaps (dials) before it replies: a dial would have been counted by now.
      expect(seed.count()).toBe(0);
      expect(fleet.fleet.rawConfig().connections[1]!.redisServers).toEqual(sharedCluster().seeds.slice(0, 2));
    } finally {
      await seed.close();
    }
  });

  it('refuses a new listen address or port, new clusterMembers, and any change of allowNetworkPatch', async () => {
    const [port] = await freePorts(1);
    const members = fleet.config.connections[2]!.clusterMembers;
    const cases: Array<[unknown, string]> = [
      [[{ op: 'replace', path: '/connections/2/localPort', value: port }], `change connections[2].localPort${hint}`],
      [
        [{ op: 'replace', path: '/connections/2/localAddress', value: '127.0.0.2' }],
        `change connections[2].localAddress${hint}`,
      ],
      [
        [
          {
            op: 'replace',
            path: '/connections/2/clusterMembers',
            value: [...members.slice(0, 5), `127.0.0.1:${port}`],
          },
        ],
        `change connections[2].clusterMembers${hint}`,
      ],
      // Renaming is adding a connection under the new name.
      [
        [{ op: 'replace', path: '/connections/2/name', value: 'renamed' }],
        `add a connection (connections[2] 'renamed')${hint}`,
      ],
      [[{ op: 'add', path: '/allowNetworkPatch', value: true }], 'change allowNetworkPatch (only the config file can)'],
      // A harmless op first does not let a guarded one through: the patch is judged whole.
      [
        [
          { op: 'add', path: '/shutdownGraceMs', value: 100 },
          { op: 'add', path: '/allowNetworkPatch', value: false },
        ],
        'change allowNetworkPatch (only the config file can)',
      ],
    ];
    const before = fleet.fleet.rawConfig();
    for (const [ops, why] of cases) {
      expect(text(await patch(admin, ops)), JSON.stringify(ops)).toBe(
        `-ERR config patch: over the network a patch may not ${why}`,
      );
    }
    expect(fleet.fleet.rawConfig()).toEqual(before);
    expect(await tryConnect(port!)).toBe('ECONNREFUSED');
    expect(await tryConnect(fleet.ports[2]!)).toBe('connected');
  });

  it('still accepts process-wide settings, and reading guarded fields with test', async () => {
    expect(text(await patch(admin, [{ op: 'add', path: '/shutdownGraceMs', value: 500 }]))).toBe(
      '+OK shutdownGraceMs: unset -> 500',
    );
    expect(text(await patch(admin, [{ op: 'remove', path: '/shutdownGraceMs' }]))).toBe(
      '+OK shutdownGraceMs: 500 -> unset',
    );
    expect(text(await patch(admin, [{ op: 'test', path: '/connections/0/localPort', value: fleet.ports[0] }]))).toBe(
      '+OK no change',
    );
  });

  it('logs each refused write at warn with the client address', () => {
    const refused = log.entries.filter((e) => e.msg === 'admin write failed');
    expect(refused.length).toBeGreaterThanOrEqual(4);
    for (const e of refused) expect(e.obj.client).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

describe('network CONFIG PATCH with "allowNetworkPatch": true in the file', () => {
  let fleet: TestFleet;
  let admin: RawClient;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-policy-'));
    fleet = await startFleet({
      seeds: sharedCluster().seeds.slice(0, 2),
      count: 1,
      edit: (c) => Object.assign(c, { adminPassword: PASSWORD, allowNetworkPatch: true }),
    });
    admin = await RawClient.connect(fleet.ports[0]!);
    expect(text(await ask(admin, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('+OK');
  });
  afterAll(async () => {
    admin?.close();
    await fleet?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('still refuses to change allowNetworkPatch', async () => {
    expect(text(await patch(admin, [{ op: 'replace', path: '/allowNetworkPatch', value: false }]))).toBe(
      '-ERR config patch: over the network a patch may not change allowNetworkPatch (only the config file can)',
    );
    expect(fleet.fleet.rawConfig().allowNetworkPatch).toBe(true);
  });

  it('resolves every middleware name before importing any: a list with a missing package runs no code', async () => {
    const { file, marker } = markerModule(dir);
    const r = await patch(admin, [{ op: 'add', path: '/middleware', value: [file, '@slotrelay/no-such-middleware'] }]);
    expect(fs.existsSync(marker)).toBe(false);
    expect(text(r)).toBe(
      "-ERR config: middleware '@slotrelay/no-such-middleware' is not installed (npm install @slotrelay/no-such-middleware)",
    );
  });

  it('lets a patch add a listener', async () => {
    const [port] = await freePorts(1);
    const value = { ...structuredClone(fleet.config.connections[0]!), name: 'extra', localPort: port! };
    expect(text(await patch(admin, [{ op: 'add', path: '/connections/-', value }]))).toBe(
      `+OK started extra on 127.0.0.1:${port}`,
    );
    expect(await tryConnect(port!)).toBe('connected');
  });
});

describe('networkPatchRefusal, the rule itself', () => {
  const conn = (name: string, extra: Partial<ConnectionConfig> = {}): ConnectionConfig => ({
    name,
    active: true,
    type: 'RedisCluster',
    redisServers: ['127.100.0.1:7000'],
    mappings: 'dynamic',
    clusterMembers: ['p1:6391', 'p2:6391'],
    instanceId: 1,
    localAddress: '0.0.0.0',
    localPort: 6391,
    ...extra,
  });
  const prev: SlotrelayConfig = { connections: [conn('a'), conn('b', { instanceId: 2, localPort: 6392 })] };
  const next = (edit: (c: SlotrelayConfig) => void) => {
    const c = structuredClone(prev);
    edit(c);
    return c;
  };

  it('lets through what guards nothing: settings, other connection fields, reordering, removing, a default written out or left out', () => {
    expect(
      networkPatchRefusal(
        prev,
        next((c) => (c.log = { level: 'debug' })),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => (c.connections[0]!.instanceId = 2)),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => c.connections.reverse()),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => c.connections.pop()),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => delete (c.connections[0] as Partial<ConnectionConfig>).localAddress),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => (c.connections[1]!.active = false)),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => (c.middleware = [...DEFAULT_MIDDLEWARE])),
      ),
    ).toBeUndefined();
    expect(
      networkPatchRefusal(
        prev,
        next((c) => (c.middleware = [...DEFAULT_MIDDLEWARE].reverse())),
      ),
    ).toMatch(/may not change middleware/);
  });

  it("refuses a change of middlewareConfig: what a middleware enforces (who sees masked values) is the file's to say", () => {
    const masked: SlotrelayConfig = {
      ...structuredClone(prev),
      middlewareConfig: { 'mask-values': { patterns: ['user:*'], exemptUsers: [] } },
    };
    const widened: SlotrelayConfig = {
      ...structuredClone(prev),
      middlewareConfig: { 'mask-values': { patterns: ['user:*'], exemptUsers: ['default'] } },
    };
    expect(networkPatchRefusal(masked, widened)).toMatch(/may not change middlewareConfig/);
    expect(networkPatchRefusal(prev, masked)).toMatch(/may not change middlewareConfig/);
    expect(networkPatchRefusal(masked, structuredClone(masked))).toBeUndefined();
  });

  it('refuses a change of metrics: the endpoint is an address the process listens on', () => {
    const on: SlotrelayConfig = { ...structuredClone(prev), metrics: { address: '127.0.0.1', port: 9121 } };
    expect(networkPatchRefusal(prev, on)).toMatch(/may not change metrics/);
    expect(networkPatchRefusal(on, { ...structuredClone(on), metrics: { address: '0.0.0.0', port: 9121 } })).toMatch(
      /may not change metrics/,
    );
    expect(networkPatchRefusal(on, structuredClone(on))).toBeUndefined();
  });

  it('leaves shapes the schema refuses to the schema', () => {
    expect(networkPatchRefusal(prev, 'nonsense')).toBeUndefined();
    expect(networkPatchRefusal(prev, { connections: 'nonsense' })).toBeUndefined();
  });

  it('with allowNetworkPatch everything but allowNetworkPatch itself passes', () => {
    const open = { ...structuredClone(prev), allowNetworkPatch: true };
    expect(
      networkPatchRefusal(open, {
        ...open,
        middleware: ['./x.js'],
        connections: [conn('c', { redisServers: ['evil:1'] })],
      }),
    ).toBeUndefined();
    expect(networkPatchRefusal(open, { ...open, allowNetworkPatch: undefined })).toMatch(
      /may not change allowNetworkPatch/,
    );
  });
});
