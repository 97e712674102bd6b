import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RespType, decodeReply, encodeCommand, toPlain } from '@slotrelay/core';
import { type RedisNodeLine, expectedStatusCluster, redisNodes, statusRows } from '../support/admin.js';
import { keyInSlots, sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';
import { redisCli } from '../support/redis-cli.js';

// Gallium Data's admin commands, answered by the proxy itself: SCANCLUSTER and STATUSCLUSTER with
// their exact reply texts, in every form a client can send them (redis-cli, RESP arrays, inline,
// RESP2 and RESP3, the SLOTRELAY alias, pipelined between data commands) — and Redis never sees one.

const portOf = (seed: string) => Number(seed.slice(seed.lastIndexOf(':') + 1));
const cmd = (...args: string[]) => encodeCommand(args);
/** Send one command, return its decoded reply. */
const ask = async (c: RawClient, ...args: string[]) => {
  c.send(cmd(...args));
  return c.reply();
};

describe('GALLIUMDATA SCANCLUSTER / STATUSCLUSTER through a dynamic fleet', () => {
  let fleet: TestFleet;
  let nodes: RedisNodeLine[];
  let seedPort: number;
  const started = Date.now();

  /** The index (instance - 1) of a proxy that fronts a master, and a key that master serves. */
  async function masterProxy(prefix: string): Promise<{ index: number; key: string }> {
    const sorted = [...nodes].sort((a, b) => (a.id < b.id ? -1 : 1));
    const index = sorted.findIndex((n) => n.role === 'master');
    const c = await RawClient.connect(seedPort);
    try {
      return { index, key: await keyInSlots(c, prefix, sorted[index]!.slots) };
    } finally {
      c.close();
    }
  }

  /** Check a STATUSCLUSTER text line by line against the live cluster, as asked of proxy `self`. */
  function checkStatus(text: string, self: number): void {
    const { rows, last } = expectedStatusCluster(nodes, fleet.ports, self, { seed: seedPort });
    const lines = text.split('\n');
    expect(lines).toHaveLength(rows.length + 1);
    expect(lines.slice(0, -1)).toEqual(rows);
    const m = last.exec(lines.at(-1)!);
    expect(m, lines.at(-1)).not.toBeNull();
    const at = Date.parse(m![1]!);
    expect(at).toBeGreaterThanOrEqual(started - 1000);
    expect(at).toBeLessThanOrEqual(Date.now());
  }

  beforeAll(async () => {
    const cluster = sharedCluster();
    seedPort = portOf(cluster.seeds[0]!);
    // No periodic check: scan counts in STATUSCLUSTER move only when a test makes them.
    fleet = await startFleet({ seeds: cluster.seeds.slice(0, 2), edit: (c) => void (c.topologyCheckIntervalMs = 0) });
    nodes = await redisNodes(seedPort);
    expect(nodes).toHaveLength(6);
  });
  afterAll(() => fleet?.stop());

  it('SCANCLUSTER answers "+OK 6 nodes found in cluster" through redis-cli on every proxy and on the wire in every form', async () => {
    for (const port of fleet.ports) {
      expect(await redisCli(['-p', String(port), 'GALLIUMDATA', 'SCANCLUSTER'])).toEqual([
        'OK 6 nodes found in cluster',
      ]);
    }
    expect(await redisCli(['-3', '-p', String(fleet.ports[1]), 'galliumdata', 'scancluster'])).toEqual([
      'OK 6 nodes found in cluster',
    ]);
    const c = await RawClient.connect(fleet.ports[0]!);
    try {
      const ok = '+OK 6 nodes found in cluster\r\n';
      c.send(cmd('GALLIUMDATA', 'SCANCLUSTER'));
      expect((await c.frame()).toString()).toBe(ok);
      c.send(cmd('slotrelay', 'ScanCluster'));
      expect((await c.frame()).toString()).toBe(ok);
      c.send('galliumdata scancluster\r\n'); // inline
      expect((await c.frame()).toString()).toBe(ok);
      c.send(cmd('HELLO', '3'));
      expect((await c.reply()).type).toBe(RespType.Map);
      c.send(cmd('GALLIUMDATA', 'SCANCLUSTER'));
      expect((await c.frame()).toString()).toBe(ok); // a status line in RESP3 too
      // Each SCANCLUSTER is a real rescan: STATUSCLUSTER counts it and dates the read, even though
      // it found nothing new (the time says how fresh the map is).
      const status = async () => {
        const m = / at (\S+); (\d+) scans? since start$/.exec(String(await c.call('GALLIUMDATA', 'STATUSCLUSTER')))!;
        return { at: Date.parse(m[1]!), scans: Number(m[2]) };
      };
      const before = await status();
      await new Promise((r) => setTimeout(r, 20));
      const asked = Date.now();
      c.send(cmd('GALLIUMDATA', 'SCANCLUSTER'));
      expect((await c.frame()).toString()).toBe(ok);
      const after = await status();
      expect(after.scans).toBe(before.scans + 1);
      expect(after.at).toBeGreaterThanOrEqual(asked);
    } finally {
      c.close();
    }
  });

  it('STATUSCLUSTER through redis-cli: the full text on every proxy, checked line by line against the real node IDs and ports', async () => {
    for (const [k, port] of fleet.ports.entries()) {
      checkStatus((await redisCli(['-p', String(port), 'GALLIUMDATA', 'STATUSCLUSTER'])).join('\n'), k);
    }
    // RESP3 (verbatim string): redis-cli prints the same text.
    checkStatus((await redisCli(['-3', '-p', String(fleet.ports[4]), 'GALLIUMDATA', 'STATUSCLUSTER'])).join('\n'), 4);
    // The rows really are the mapping: each proxy's own row names the node it serves.
    for (const [k, port] of fleet.ports.entries()) {
      const rows = statusRows((await redisCli(['-p', String(port), 'SLOTRELAY', 'STATUSCLUSTER'])).join('\n'));
      const self = rows.find((r) => r.self)!;
      expect(self.proxyPort).toBe(port);
      const myself = (await redisCli(['-p', String(port), 'CLUSTER', 'MYID']))[0];
      expect(self.id).toBe(myself);
      expect(rows.map((r) => r.proxyPort)).toEqual(fleet.ports);
      expect(rows.findIndex((r) => r.self)).toBe(k);
    }
  });

  it('STATUSCLUSTER on a raw socket: a bulk string in RESP2, a verbatim `=…txt:` string after HELLO 3, byte for byte', async () => {
    const c = await RawClient.connect(fleet.ports[2]!);
    try {
      c.send(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
      const resp2 = await c.frame();
      const text = decodeReply(resp2).data!.toString();
      checkStatus(text, 2);
      expect(resp2.toString()).toBe(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);

      c.send(cmd('HELLO', '3'));
      expect((await c.reply()).type).toBe(RespType.Map);
      c.send(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
      const resp3 = await c.frame();
      expect(resp3.toString()).toBe(`=${Buffer.byteLength(text) + 4}\r\ntxt:${text}\r\n`);

      // HELLO pipelined before admin commands: its reply is not back yet when they are answered, so
      // the text goes out as a bulk string (both protocols read it); once it is, verbatim again.
      c.send(
        Buffer.concat([
          cmd('HELLO', '2'),
          cmd('HELLO', '3'),
          cmd('GALLIUMDATA', 'STATUSCLUSTER'),
          cmd('SLOTRELAY', 'STATUSCLUSTER'),
        ]),
      );
      expect((await c.reply()).type).toBe(RespType.Array); // HELLO 2 answers in RESP2
      expect((await c.reply()).type).toBe(RespType.Map);
      expect((await c.frame()).toString()).toBe(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
      expect((await c.frame()).toString()).toBe(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
      c.send(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
      expect((await c.frame()).toString()).toBe(`=${Buffer.byteLength(text) + 4}\r\ntxt:${text}\r\n`);

      c.send(cmd('HELLO', '2'));
      expect((await c.reply()).type).toBe(RespType.Array);
      c.send(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
      expect((await c.frame()).toString()).toBe(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
    } finally {
      c.close();
    }
  });

  it('the inline form (`galliumdata statuscluster\\r\\n`) and the SLOTRELAY alias answer the same text', async () => {
    const c = await RawClient.connect(fleet.ports[5]!);
    try {
      c.send('galliumdata statuscluster\r\n');
      const inline = await c.frame();
      const text = decodeReply(inline).data!.toString();
      checkStatus(text, 5);
      expect(inline.toString()).toBe(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
      c.send('SLOTRELAY STATUSCLUSTER\r\n');
      expect((await c.frame()).toString()).toBe(inline.toString());
      c.send(cmd('SlotRelay', 'statuscluster'));
      expect((await c.frame()).toString()).toBe(inline.toString());
      // Inline with extra blanks, as redis-cli or telnet users type it.
      c.send('  galliumdata   STATUSCLUSTER  \r\n');
      expect((await c.frame()).toString()).toBe(inline.toString());
    } finally {
      c.close();
    }
  });

  it('errors name the alias the client used', async () => {
    const c = await RawClient.connect(fleet.ports[0]!);
    try {
      const err = async (...args: string[]) => {
        const r = await ask(c, ...args);
        expect(r.type).toBe(RespType.Error);
        return r.text;
      };
      expect(await err('SLOTRELAY', 'FROB')).toBe("ERR unknown SLOTRELAY subcommand 'FROB' (try HELP)");
      expect(await err('GALLIUMDATA', 'frob')).toBe("ERR unknown GALLIUMDATA subcommand 'frob' (try HELP)");
      expect(await err('SLOTRELAY', 'STATUSCLUSTER', 'extra')).toBe(
        "ERR wrong number of arguments for 'SLOTRELAY STATUSCLUSTER'",
      );
      expect(await err('GALLIUMDATA', 'SCANCLUSTER', 'now')).toBe(
        "ERR wrong number of arguments for 'GALLIUMDATA SCANCLUSTER'",
      );
      expect(await err('SLOTRELAY', 'CONFIG', 'PATCH')).toBe(
        "ERR wrong number of arguments for 'SLOTRELAY CONFIG PATCH'",
      );
      c.send('slotrelay frob\r\n');
      expect((await c.reply()).text).toBe("ERR unknown SLOTRELAY subcommand 'frob' (try HELP)");
      const help = toPlain(await ask(c, 'SLOTRELAY', 'HELP')) as string[];
      expect(help[0]).toBe('SLOTRELAY <subcommand> [<arg> ...]. Subcommands are:');
      expect(help).toContain('SCANCLUSTER');
      expect(help).toContain('STATUSCLUSTER');
    } finally {
      c.close();
    }
  });

  it('SET, admin commands and GET pipelined in ONE write come back in order, the data commands served by Redis', async () => {
    const { index, key } = await masterProxy('admin:pipe');
    const c = await RawClient.connect(fleet.ports[index]!);
    try {
      c.send(
        Buffer.concat([
          cmd('SET', key, 'v1'),
          cmd('GALLIUMDATA', 'STATUSCLUSTER'),
          cmd('GET', key),
          cmd('GALLIUMDATA', 'SCANCLUSTER'), // answered later (a real scan): GET behind it waits
          cmd('APPEND', key, '-x'),
          cmd('SLOTRELAY', 'FROB'),
          cmd('GET', key),
        ]),
      );
      expect((await c.frame()).toString()).toBe('+OK\r\n');
      checkStatus(decodeReply(await c.frame()).data!.toString(), index);
      expect((await c.frame()).toString()).toBe('$2\r\nv1\r\n');
      expect((await c.frame()).toString()).toBe('+OK 6 nodes found in cluster\r\n');
      expect((await c.frame()).toString()).toBe(':4\r\n');
      expect((await c.frame()).toString()).toBe("-ERR unknown SLOTRELAY subcommand 'FROB' (try HELP)\r\n");
      expect((await c.frame()).toString()).toBe('$4\r\nv1-x\r\n');

      // The same in inline form, one write.
      c.send(`SET ${key} v2\r\ngalliumdata scancluster\r\nGET ${key}\r\nslotrelay statuscluster\r\nDEL ${key}\r\n`);
      expect((await c.frame()).toString()).toBe('+OK\r\n');
      expect((await c.frame()).toString()).toBe('+OK 6 nodes found in cluster\r\n');
      expect((await c.frame()).toString()).toBe('$2\r\nv2\r\n');
      checkStatus(decodeReply(await c.frame()).data!.toString(), index);
      expect((await c.frame()).toString()).toBe(':1\r\n');

      // Inside MULTI an admin command is refused at once and Redis's transaction goes on unharmed.
      c.send(
        Buffer.concat([
          cmd('MULTI'),
          cmd('SET', key, 'tx'),
          cmd('GALLIUMDATA', 'STATUSCLUSTER'),
          cmd('GET', key),
          cmd('EXEC'),
        ]),
      );
      expect((await c.frame()).toString()).toBe('+OK\r\n');
      expect((await c.frame()).toString()).toBe('+QUEUED\r\n');
      expect((await c.frame()).toString()).toBe('-ERR GALLIUMDATA commands cannot be used inside MULTI\r\n');
      expect((await c.frame()).toString()).toBe('+QUEUED\r\n');
      expect((await c.frame()).toString()).toBe('*2\r\n+OK\r\n$2\r\ntx\r\n');
      await c.call('DEL', key);
    } finally {
      c.close();
    }
  });

  it("Redis's own counters show that no admin command reached it (INFO commandstats / errorstats on every node)", async () => {
    const ports = nodes.map((n) => n.port);
    /** errorstat_* lines except MOVED/ASK (other e2e files redirect clients concurrently), and admin cmdstat lines. */
    const counters = async (port: number) => {
      const c = await RawClient.connect(port);
      try {
        const stats = String(await c.call('INFO', 'commandstats'));
        const errors = String(await c.call('INFO', 'errorstats'));
        return {
          admin: stats.split('\r\n').filter((l) => /^cmdstat_(galliumdata|slotrelay)/i.test(l)),
          errors: errors.split('\r\n').filter((l) => l.startsWith('errorstat_') && !/^errorstat_(MOVED|ASK):/.test(l)),
        };
      } finally {
        c.close();
      }
    };
    const before = await Promise.all(ports.map(counters));
    // Every form, valid and erroneous, on every proxy — each of these would be an ERR from Redis.
    for (const port of fleet.ports) {
      const c = await RawClient.connect(port);
      try {
        c.send(
          Buffer.concat([
            cmd('GALLIUMDATA', 'SCANCLUSTER'),
            cmd('GALLIUMDATA', 'STATUSCLUSTER'),
            cmd('SLOTRELAY', 'STATUSCLUSTER'),
            cmd('GALLIUMDATA', 'FROB'),
            cmd('GALLIUMDATA', 'SCANCLUSTER', 'x'),
            cmd('GALLIUMDATA', 'CONFIG', 'PATCH', '[]'),
            cmd('GALLIUMDATA', 'AUTH', 'nope'),
            cmd('GALLIUMDATA'),
            Buffer.from('galliumdata statuscluster\r\nslotrelay nope\r\n'),
            cmd('PING'),
          ]),
        );
        for (let i = 0; i < 10; i++) await c.frame();
        expect((await c.frame()).toString()).toBe('+PONG\r\n');
      } finally {
        c.close();
      }
    }
    const after = await Promise.all(ports.map(counters));
    for (const [i, port] of ports.entries()) {
      expect(after[i]!.admin, `Redis ${port} counted an admin command`).toEqual([]);
      expect(after[i]!.errors, `Redis ${port} answered an error`).toEqual(before[i]!.errors);
    }
    // The oracle works: the same command sent to Redis itself is an error Redis counts.
    const direct = await RawClient.connect(ports[0]!);
    try {
      const r = await ask(direct, 'GALLIUMDATA', 'STATUSCLUSTER');
      expect(r.text).toMatch(/^ERR unknown command 'GALLIUMDATA'/);
      expect((await counters(ports[0]!)).errors).not.toEqual(before[0]!.errors);
    } finally {
      direct.close();
    }
  });
});
