import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectionConfig, type RespNode, RespType, encodeCommand } from '@slotrelay/core';
import { statusRows } from '../support/admin.js';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, freePorts, startFleet } from '../support/fleet.js';
import { pollUntil, tryConnect } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { redisCli, splitRedirects } from '../support/redis-cli.js';
import { captureLogger } from '../../packages/transport-tls/test/helpers.js';

// The running config changed through GALLIUMDATA CONFIG PATCH (RFC 6902), all or nothing: a bad
// patch changes nothing, a good one starts / stops listeners that really serve, and only an
// authenticated connection may write. The file allows network patches to add listeners
// (`allowNetworkPatch`; network-patch-policy.test.ts covers the refusals without it).

const PASSWORD = 'correct horse battery staple';

const ask = async (c: RawClient, ...args: string[]): Promise<RespNode> => {
  c.send(encodeCommand(args));
  return c.reply();
};
const patch = (c: RawClient, ops: unknown) =>
  ask(c, 'GALLIUMDATA', 'CONFIG', 'PATCH', typeof ops === 'string' ? ops : JSON.stringify(ops));
const configGet = async (c: RawClient) => (await ask(c, 'GALLIUMDATA', 'CONFIG', 'GET')).data!.toString();
const ok = (r: RespNode) => {
  expect(r.type, r.text).toBe(RespType.SimpleString);
  return r.text!;
};
const err = (r: RespNode) => {
  expect(r.type, `expected an error, got ${r.text ?? r.data?.toString()}`).toBe(RespType.Error);
  return r.text!;
};

describe('live config through GALLIUMDATA CONFIG PATCH', () => {
  let fleet: TestFleet;
  let admin: RawClient;
  const log = captureLogger();

  /** A dynamic connection on `port` that takes instance `k + 1`'s place in the fleet's members. */
  const connectionAt = (name: string, port: number, k: number): ConnectionConfig => ({
    ...structuredClone(fleet.config.connections[k]!),
    name,
    localPort: port,
    clusterMembers: fleet.ports.map((p, i) => `127.0.0.1:${i === k ? port : p}`),
  });

  beforeAll(async () => {
    fleet = await startFleet({
      seeds: sharedCluster().seeds.slice(0, 2),
      log,
      edit: (c) => Object.assign(c, { adminPassword: PASSWORD, allowNetworkPatch: true }),
    });
    admin = await RawClient.connect(fleet.ports[0]!);
    expect(ok(await ask(admin, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('OK');
  });
  afterAll(async () => {
    admin?.close();
    await fleet?.stop();
  });

  it('refuses writes without AUTH and after a wrong password, accepts them after AUTH; reads stay open and never show the password', async () => {
    const [port] = await freePorts(1);
    const ops = [{ op: 'add', path: '/connections/-', value: connectionAt('never', port!, 0) }];
    const c = await RawClient.connect(fleet.ports[1]!);
    try {
      expect(err(await patch(c, ops))).toBe('ERR admin writes need GALLIUMDATA AUTH first');
      expect(err(await ask(c, 'SLOTRELAY', 'CONFIG', 'PATCH', JSON.stringify(ops)))).toBe(
        'ERR admin writes need SLOTRELAY AUTH first',
      );
      expect(err(await ask(c, 'GALLIUMDATA', 'AUTH', 'wrong'))).toBe('ERR invalid admin password');
      expect(err(await patch(c, ops))).toBe('ERR admin writes need GALLIUMDATA AUTH first');
      // redis-cli, one connection per call: never authenticated.
      expect(
        await redisCli(['-p', String(fleet.ports[2]), 'GALLIUMDATA', 'CONFIG', 'PATCH', JSON.stringify(ops)]),
      ).toEqual(['ERR admin writes need GALLIUMDATA AUTH first']);
      expect(await tryConnect(port!)).toBe('ECONNREFUSED');
      expect(fleet.fleet.listeners.size).toBe(6);

      const config = JSON.parse(await configGet(c)) as { adminPassword: string; connections: unknown[] };
      expect(config.adminPassword).toBe('********');
      expect(config.connections).toHaveLength(6);
      expect(await configGet(c)).not.toContain(PASSWORD);

      // AUTH then a harmless write, on the same connection: accepted; a failed AUTH drops it again.
      expect(ok(await ask(c, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('OK');
      expect(ok(await patch(c, [{ op: 'add', path: '/shutdownGraceMs', value: 500 }]))).toBe(
        'OK shutdownGraceMs: unset -> 500',
      );
      expect(ok(await patch(c, [{ op: 'remove', path: '/shutdownGraceMs' }]))).toBe('OK shutdownGraceMs: 500 -> unset');
      expect(err(await ask(c, 'GALLIUMDATA', 'AUTH', 'wrong again'))).toBe('ERR invalid admin password');
      expect(err(await patch(c, [{ op: 'add', path: '/shutdownGraceMs', value: 500 }]))).toBe(
        'ERR admin writes need GALLIUMDATA AUTH first',
      );
      expect(JSON.parse(await configGet(c))).not.toHaveProperty('shutdownGraceMs');
    } finally {
      c.close();
    }
    // Writes were logged, refusals at warn, and the password never.
    expect(log.at('warn').some((e) => e.msg === 'admin write refused')).toBe(true);
    expect(log.at('info').some((e) => e.msg === 'admin write applied')).toBe(true);
    expect(JSON.stringify(log.entries)).not.toContain(PASSWORD);
  });

  it('without adminPassword every write is refused', async () => {
    const open = await startFleet({ seeds: sharedCluster().seeds.slice(0, 2), count: 1 });
    const c = await RawClient.connect(open.ports[0]!);
    try {
      expect(err(await patch(c, [{ op: 'add', path: '/shutdownGraceMs', value: 1 }]))).toBe(
        'ERR admin writes are disabled: set adminPassword in the config',
      );
      expect(err(await ask(c, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe(
        'ERR GALLIUMDATA AUTH called without any adminPassword configured',
      );
      expect(err(await patch(c, [{ op: 'add', path: '/shutdownGraceMs', value: 1 }]))).toBe(
        'ERR admin writes are disabled: set adminPassword in the config',
      );
    } finally {
      c.close();
      await open.stop();
    }
  });

  it('refuses an invalid patch with a clear one-line -ERR and changes nothing', async () => {
    const before = await configGet(admin);
    const [port, taken] = await freePorts(2);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(taken!, '127.0.0.1', r));
    const good = connectionAt('extra', port!, 1);
    const cases: Array<[string, unknown, string | RegExp]> = [
      [
        'a schema violation (wrong type)',
        [{ op: 'add', path: '/connections/-', value: { ...good, localPort: 'x' } }],
        'ERR config: connections[6].localPort should be integer, instead got "x"',
      ],
      [
        'a schema violation (unknown field)',
        [{ op: 'add', path: '/colour', value: 'blue' }],
        "ERR config: the top level has an unknown field 'colour'",
      ],
      [
        'a schema violation (bad enum)',
        [{ op: 'replace', path: '/connections/0/mappings', value: 'magic' }],
        'ERR config: connections[0].mappings should be one of "dynamic", "static", instead got "magic"',
      ],
      [
        'a failing test op before a valid add',
        [
          { op: 'test', path: '/connections/0/localPort', value: 1 },
          { op: 'add', path: '/connections/-', value: good },
        ],
        'ERR config patch: test operation 0 failed: the config changed since you read it',
      ],
      [
        'a valid add then a schema violation (all or nothing)',
        [
          { op: 'add', path: '/connections/-', value: good },
          { op: 'replace', path: '/connections/0/instanceId', value: 0 },
        ],
        /^ERR config: connections\[0\]\.instanceId /,
      ],
      [
        'a port another active connection uses',
        [{ op: 'add', path: '/connections/-', value: { ...good, localPort: fleet.ports[3] } }],
        `ERR config: connections[6].localPort ${fleet.ports[3]} is used by another active connection`,
      ],
      [
        'a valid add and a port something else holds (the first listener is closed again)',
        [
          { op: 'add', path: '/connections/-', value: good },
          { op: 'add', path: '/connections/-', value: connectionAt('extra2', taken!, 2) },
        ],
        `ERR config change not applied: connection 'extra2': cannot listen on 127.0.0.1:${taken}: EADDRINUSE`,
      ],
      [
        'a path that does not exist',
        [{ op: 'replace', path: '/connections/9/localPort', value: 1 }],
        /^ERR config patch: .*\(operation 0\)$/,
      ],
      ['not JSON', '[{"op":', /^ERR CONFIG PATCH: invalid JSON: /],
      [
        'a malformed op',
        [{ op: 'add', path: 'connections', value: 1 }],
        /^ERR CONFIG PATCH: operation #0 is invalid: .*\(OPERATION_PATH_INVALID\)$/,
      ],
    ];
    try {
      for (const [what, ops, reply] of cases) {
        const text = err(await patch(admin, ops));
        if (typeof reply === 'string') expect(text, what).toBe(reply);
        else expect(text, what).toMatch(reply);
        expect(text, what).not.toMatch(/[\r\n]/);
        expect(await configGet(admin), what).toBe(before);
        expect(fleet.fleet.listeners.size, what).toBe(6);
        expect(await tryConnect(port!), what).toBe('ECONNREFUSED');
      }
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // The fleet still serves.
    expect(
      await redisCli(['-c', '-p', String(fleet.ports[0])], 'SET live:inv 1\nGET live:inv\n').then(
        (l) => splitRedirects(l).replies,
      ),
    ).toEqual(['OK', '1']);
  });

  it('a valid `add /connections/-` starts a listener that serves redis-cli -c, and its STATUSCLUSTER names it', async () => {
    const [port] = await freePorts(1);
    const k = 1;
    const running = [...fleet.fleet.listeners.values()];
    const reply = ok(
      await patch(admin, [{ op: 'add', path: '/connections/-', value: connectionAt('extra', port!, k) }]),
    );
    expect(reply).toBe(`OK started extra on 127.0.0.1:${port}`);
    expect(fleet.fleet.listeners.size).toBe(7);
    // Nothing else was touched: the other listeners are the same objects, none was stopped.
    expect([...fleet.fleet.listeners.values()].slice(0, 6).every((l, i) => l === running[i])).toBe(true);
    expect(
      log.at('info').filter((e) => e.msg === 'listener stopped' && String(e.obj.connection).startsWith('proxy-')),
    ).toEqual([]);

    const members = fleet.ports.map((p, i) => (i === k ? port! : p));
    const keys = Array.from({ length: 300 }, (_, i) => `live:add:${i}`);
    const out = splitRedirects(
      await redisCli(['-c', '-p', String(port)], keys.map((key, i) => `SET ${key} v${i}\nGET ${key}`).join('\n')),
    );
    expect(out.replies).toEqual(keys.flatMap((_, i) => ['OK', `v${i}`]));
    expect(out.redirectPorts.length).toBeGreaterThan(0);
    // Redirects name proxies only: the new one, or (from the other listeners, whose members did not change) the fleet's.
    for (const p of out.redirectPorts) expect([...fleet.ports, port]).toContain(p);

    const status = (await redisCli(['-p', String(port), 'GALLIUMDATA', 'STATUSCLUSTER'])).join('\n');
    const rows = statusRows(status);
    expect(rows).toHaveLength(6);
    expect(rows.map((r) => r.proxyPort)).toEqual(members);
    expect(rows[k]).toMatchObject({ proxyPort: port, self: true });
    expect(rows.filter((r) => r.self)).toHaveLength(1);
    // The same Redis node as the proxy it stands in for.
    const theirs = statusRows(
      (await redisCli(['-p', String(fleet.ports[k]), 'GALLIUMDATA', 'STATUSCLUSTER'])).join('\n'),
    );
    expect(rows[k]!.id).toBe(theirs[k]!.id);

    const config = JSON.parse(await configGet(admin)) as { connections: ConnectionConfig[] };
    expect(config.connections).toHaveLength(7);
    expect(config.connections[6]).toMatchObject({ name: 'extra', localPort: port, active: true });
  });

  it('`"active": false` closes a listener (sessions closed, connections refused); true opens it again; remove drops it', async () => {
    const names = () => [...fleet.fleet.listeners.keys()];
    expect(names()).toContain('extra');
    const i = (JSON.parse(await configGet(admin)) as { connections: ConnectionConfig[] }).connections.findIndex(
      (c) => c.name === 'extra',
    );
    const port = fleet.fleet.listeners.get('extra')!.resolved.config.localPort;
    const session = await RawClient.connect(port);
    expect(await session.call('PING')).toBe('PONG');

    expect(ok(await patch(admin, [{ op: 'replace', path: `/connections/${i}/active`, value: false }]))).toBe(
      'OK stopped extra',
    );
    await pollUntil('the open session to be closed', () => session.closed, 5000);
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(names()).not.toContain('extra');
    expect((JSON.parse(await configGet(admin)) as { connections: ConnectionConfig[] }).connections[i]).toMatchObject({
      name: 'extra',
      active: false,
    });
    expect(await redisCli(['-p', String(fleet.ports[1]), 'PING'])).toEqual(['PONG']);

    expect(ok(await patch(admin, [{ op: 'replace', path: `/connections/${i}/active`, value: true }]))).toBe(
      `OK started extra on 127.0.0.1:${port}`,
    );
    expect(await redisCli(['-p', String(port), 'PING'])).toEqual(['PONG']);

    expect(ok(await patch(admin, [{ op: 'remove', path: `/connections/${i}` }]))).toBe('OK stopped extra');
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(fleet.fleet.listeners.size).toBe(6);
  });

  it('process-wide settings: the reply names each change, and topologyCheckIntervalMs takes effect on the running listeners', async () => {
    expect(ok(await patch(admin, [{ op: 'add', path: '/log', value: { level: 'info' } }]))).toBe(
      'OK log.level: unset -> info',
    );
    // The README's example, word for word.
    expect(
      ok(await ask(admin, 'GALLIUMDATA', 'CONFIG', 'PATCH', '[{"op":"replace","path":"/log/level","value":"debug"}]')),
    ).toBe('OK log.level: info -> debug');
    expect(ok(await patch(admin, [{ op: 'remove', path: '/log' }]))).toBe('OK log.level: debug -> unset');
    expect(ok(await patch(admin, [{ op: 'add', path: '/log', value: {} }]))).toBe('OK no change');
    expect(ok(await patch(admin, [{ op: 'remove', path: '/log' }]))).toBe('OK no change');

    // Periodic checks, seen through the scan count STATUSCLUSTER reports (default: every 5 s).
    const c = await RawClient.connect(fleet.ports[5]!);
    try {
      const scans = async () =>
        Number(/; (\d+) scans? since start$/.exec((await ask(c, 'GALLIUMDATA', 'STATUSCLUSTER')).data!.toString())![1]);
      const first = await scans();
      expect(ok(await patch(admin, [{ op: 'add', path: '/topologyCheckIntervalMs', value: 100 }]))).toBe(
        'OK topologyCheckIntervalMs: unset -> 100',
      );
      await pollUntil('periodic checks every 100 ms', async () => (await scans()) >= first + 5, 5000, 50);
      expect(ok(await patch(admin, [{ op: 'replace', path: '/topologyCheckIntervalMs', value: 0 }]))).toBe(
        'OK topologyCheckIntervalMs: 100 -> 0',
      );
      const stopped = await scans();
      await new Promise((r) => setTimeout(r, 400));
      expect(await scans()).toBe(stopped);
      expect(ok(await patch(admin, [{ op: 'remove', path: '/topologyCheckIntervalMs' }]))).toBe(
        'OK topologyCheckIntervalMs: 0 -> unset',
      );
    } finally {
      c.close();
    }
  });

  it('changing adminPassword revokes earlier AUTHs', async () => {
    const other = await RawClient.connect(fleet.ports[3]!);
    try {
      expect(ok(await ask(other, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('OK');
      const next = 'a new password';
      expect(ok(await patch(admin, [{ op: 'replace', path: '/adminPassword', value: next }]))).toBe(
        'OK adminPassword changed',
      );
      for (const c of [admin, other]) {
        expect(err(await patch(c, [{ op: 'add', path: '/shutdownGraceMs', value: 500 }]))).toBe(
          'ERR admin writes need GALLIUMDATA AUTH first',
        );
      }
      expect(err(await ask(admin, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('ERR invalid admin password');
      expect(ok(await ask(admin, 'GALLIUMDATA', 'AUTH', next))).toBe('OK');
      expect(ok(await patch(admin, [{ op: 'replace', path: '/adminPassword', value: PASSWORD }]))).toBe(
        'OK adminPassword changed',
      );
      expect(ok(await ask(admin, 'GALLIUMDATA', 'AUTH', PASSWORD))).toBe('OK');
      expect(JSON.stringify(log.entries)).not.toContain(next);
    } finally {
      other.close();
    }
  });
});
