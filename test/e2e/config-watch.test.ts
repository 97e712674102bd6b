import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusRows } from '../support/admin.js';
import { sharedCluster } from '../support/cluster.js';
import { freePorts } from '../support/fleet.js';
import { pollUntil, tryConnect } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { redisCli } from '../support/redis-cli.js';

// `slotrelay --config <file> --watch`, the real CLI as a child process: a changed file is diffed
// into the running config (the CONFIG PATCH path); a broken file is logged and ignored.

const cli = fileURLToPath(new URL('../../packages/host/bin/slotrelay.js', import.meta.url));

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

describe('slotrelay --watch', () => {
  let dir: string;
  let file: string;
  let child: ChildProcess | undefined;
  let ports: number[];
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  let config: { connections: Array<Record<string, unknown>>; log?: { level: string } };

  /** Replace the file the way editors do (write elsewhere, rename over). */
  const writeConfig = (content: unknown) => {
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    fs.renameSync(tmp, file);
  };
  /** Wait for a log line matching `pred` after index `from`; returns it. */
  const waitLog = (what: string, pred: (l: LogLine) => boolean, from: number, timeoutMs = 10_000) =>
    pollUntil(what, () => logs.slice(from).find(pred), timeoutMs, 25).catch((e: Error) => {
      throw new Error(
        `${e.message}\nstdout JSON: ${logs
          .slice(from)
          .map((l) => JSON.stringify(l))
          .join('\n')}\nstderr: ${stderr.join('')}`,
      );
    });
  const configGet = async (port: number) =>
    (await redisCli(['-p', String(port), 'GALLIUMDATA', 'CONFIG', 'GET'])).join('\n');
  const extraAt = (port: number, k: number) => ({
    ...config.connections[k]!,
    name: 'extra',
    localPort: port,
    clusterMembers: ports.map((p, i) => `127.0.0.1:${i === k ? port : p}`),
  });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-watch-'));
    file = path.join(dir, 'slotrelay.json');
    ports = await freePorts(6);
    const members = ports.map((p) => `127.0.0.1:${p}`);
    config = {
      connections: ports.map((port, i) => ({
        name: `p${i + 1}`,
        type: 'RedisCluster',
        redisServers: sharedCluster().seeds.slice(0, 2),
        mappings: 'dynamic',
        clusterMembers: members,
        instanceId: i + 1,
        localAddress: '127.0.0.1',
        localPort: port,
      })),
    };
    writeConfig(config);
    child = spawn(process.execPath, [cli, '--config', file, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) logs.push(JSON.parse(l) as LogLine);
    });
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    await pollUntil(
      '6 listeners',
      () => logs.filter((l) => l.msg === 'listening').length >= 6 || undefined,
      20_000,
      25,
    );
  });

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies a changed file: an added connection serves, nothing else is touched', async () => {
    const session = await RawClient.connect(ports[0]!);
    try {
      expect(await session.call('PING')).toBe('PONG');
      const before = JSON.parse(await configGet(ports[1]!)) as typeof config;
      const [port] = await freePorts(1);
      const from = logs.length;
      writeConfig({ ...config, connections: [...config.connections, extraAt(port!, 2)] });
      const applied = await waitLog('the change applied', (l) => l.msg === 'config file change applied', from);
      expect(applied).toMatchObject({ level: 30, file, summary: `started extra on 127.0.0.1:${port}` });

      expect(await redisCli(['-p', String(port), 'PING'])).toEqual(['PONG']);
      const rows = statusRows((await redisCli(['-p', String(port), 'GALLIUMDATA', 'STATUSCLUSTER'])).join('\n'));
      expect(rows).toHaveLength(6);
      expect(rows[2]).toMatchObject({ proxyPort: port, self: true });
      const after = JSON.parse(await configGet(ports[1]!)) as typeof config;
      expect(after.connections.slice(0, 6)).toEqual(before.connections);
      expect(after.connections[6]).toMatchObject({ name: 'extra', localPort: port });
      // The session opened before the change is untouched, and no listener was restarted.
      expect(await session.call('PING')).toBe('PONG');
      expect(logs.slice(from).filter((l) => l.msg === 'listener stopped')).toEqual([]);
      config = { ...config, connections: [...config.connections, extraAt(port!, 2)] };
    } finally {
      session.close();
    }
  });

  it('rejects invalid JSON, then a schema violation, then a port it cannot bind: logged, and the running config stays', async () => {
    const running = await configGet(ports[0]!);
    const extraPort = config.connections[6]!.localPort as number;
    const blocker = net.createServer();
    const [taken, unused] = await freePorts(2);
    await new Promise<void>((r) => blocker.listen(taken!, '127.0.0.1', r));
    const broken: Array<[string, unknown, RegExp]> = [
      [
        'invalid JSON',
        JSON.stringify(config).slice(0, -7),
        new RegExp(`^config: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not valid JSON: `),
      ],
      [
        'a schema violation',
        { ...config, connections: config.connections.map((c, i) => (i === 0 ? { ...c, localPort: 'x' } : c)) },
        /^config: connections\[0\]\.localPort should be integer, instead got "x"$/,
      ],
      ['an unknown field', { ...config, colour: 'blue' }, /^config: the top level has an unknown field 'colour'$/],
      [
        'a port something else holds (and a valid change next to it)',
        {
          ...config,
          connections: [
            ...config.connections,
            { ...extraAt(unused!, 3), name: 'fine' },
            { ...extraAt(taken!, 4), name: 'blocked' },
          ],
        },
        new RegExp(
          `^config change not applied: connection 'blocked': cannot listen on 127\\.0\\.0\\.1:${taken}: EADDRINUSE$`,
        ),
      ],
    ];
    try {
      for (const [what, content, err] of broken) {
        const from = logs.length;
        writeConfig(content);
        const rejected = await waitLog(
          `${what} rejected`,
          (l) => l.msg === 'config file change rejected; the running config stays',
          from,
        );
        expect(rejected.level, what).toBe(50);
        expect(rejected.file, what).toBe(file);
        expect(String(rejected.err), what).toMatch(err);
        expect(
          logs.slice(from).filter((l) => l.msg === 'config file change applied'),
          what,
        ).toEqual([]);
        // The running config stays: every old port serves, CONFIG GET is unchanged.
        expect(await configGet(ports[0]!), what).toBe(running);
        for (const p of [...ports, extraPort])
          expect(await redisCli(['-p', String(p), 'PING']), `${what}: port ${p}`).toEqual(['PONG']);
        expect(await tryConnect(unused!), what).toBe('ECONNREFUSED');
      }
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('keeps watching after rejections: a later valid file is applied (remove a connection, then log.level)', async () => {
    const extraPort = config.connections[6]!.localPort as number;
    const six = { ...config, connections: config.connections.slice(0, 6) };
    let from = logs.length;
    writeConfig(six);
    expect(await waitLog('the removal applied', (l) => l.msg === 'config file change applied', from)).toMatchObject({
      summary: 'stopped extra',
    });
    expect(await tryConnect(extraPort)).toBe('ECONNREFUSED');
    expect((JSON.parse(await configGet(ports[0]!)) as typeof config).connections).toHaveLength(6);

    // log.level is applied to the running process: at warn, the info lines stop, errors still come.
    from = logs.length;
    writeConfig({ ...six, log: { level: 'warn' } });
    await pollUntil(
      'log.level in the running config',
      async () => (JSON.parse(await configGet(ports[0]!)) as typeof config).log?.level === 'warn',
      5000,
      50,
    );
    writeConfig({ ...six, log: { level: 'warn' }, connections: [...six.connections, extraAt(extraPort, 2)] });
    await pollUntil('the extra listener back', async () => (await tryConnect(extraPort)) === 'connected', 5000, 50);
    writeConfig('{');
    await waitLog(
      'the rejection (error level)',
      (l) => l.msg === 'config file change rejected; the running config stays',
      from,
    );
    expect(logs.slice(from).filter((l) => l.level < 40)).toEqual([]);
  });
});
