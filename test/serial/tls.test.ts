import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { RespType, type ConnectionConfig, encodeCommand } from '@slotrelay/core';
import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';
import { portsIn, redisCli } from '../support/redis-cli.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from '../../packages/transport-tls/test/certs.js';
import { captureLogger, tlsPing, waitFor } from '../../packages/transport-tls/test/helpers.js';

// "TLS on both sides": a TLS-only Redis Cluster (port 0, tls-port, tls-cluster yes) behind dynamic
// fleets. Redis names its TLS ports everywhere (the proxy's link to it is TLS); the address map is
// keyed by node ID, so every reply a client sees names the proxy listener it should use instead.

type Master = { id: string; port: number; slots: Array<[number, number]>; key: string };

/** Every number under a `port` / `tls-port` key of a CLUSTER SHARDS reply (RESP3 JSON objects or RESP2 flat arrays). */
function shardPorts(v: unknown, out: number[] = []): number[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if ((x === 'port' || x === 'tls-port') && typeof v[i + 1] === 'number') out.push(v[i + 1] as number);
      else shardPorts(x, out);
    });
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'port' || k === 'tls-port') && typeof x === 'number') out.push(x);
      else shardPorts(x, out);
    }
  }
  return out;
}

/** `[start, end, [host, port, id, …], …]` entries of CLUSTER SLOTS → the ports of every node named. */
function slotPorts(slots: unknown): number[] {
  return (slots as Array<[number, number, ...Array<[string, number, string]>]>).flatMap(([, , ...nodes]) =>
    nodes.map((n) => n[1]),
  );
}

describe.skipIf(!hasOpenssl())('TLS on both sides, TLS-only cluster behind dynamic fleets', () => {
  let certs: TestCerts;
  let cluster: LocalCluster;
  let redisPorts: number[];
  let sortedIds: string[];
  let masters: Master[];
  const fleets: TestFleet[] = [];

  /** The proxy port that fronts Redis node `id` in `fleet` (dynamic mapping: sorted node IDs ↔ instance IDs). */
  const proxyOf = (fleet: TestFleet, id: string) => fleet.ports[sortedIds.indexOf(id)]!;

  /** Assert `ports` are all listener ports of `fleet`, and none is a Redis port. */
  const onlyProxyPorts = (fleet: TestFleet, ports: number[]) => {
    expect(ports.length).toBeGreaterThan(0);
    for (const p of ports) expect(fleet.ports, `port ${p}`).toContain(p);
    for (const p of ports) expect(redisPorts, `port ${p}`).not.toContain(p);
  };

  /** Assert a text names no Redis client port (the TLS ports) at all. */
  const noRedisPort = (text: string) => {
    for (const p of redisPorts) expect(text, `Redis port ${p} leaked`).not.toMatch(new RegExp(`\\b${p}\\b`));
  };

  /**
   * `SET key value` then `GET key` with `redis-cli -c args…`; every redirect it follows must name the
   * proxy (of `fleet`) in front of the key's master.
   */
  async function setGetFollowingRedirects(fleet: TestFleet, args: string[], m: Master, value: string): Promise<number> {
    const out = await redisCli([...args, '-c'], `SET ${m.key} ${value}\nGET ${m.key}\n`);
    const redirects = out.filter((l) => l.startsWith('-> Redirected'));
    expect(out.filter((l) => !l.startsWith('-> Redirected'))).toEqual(['OK', value]);
    for (const r of redirects)
      expect(r).toMatch(
        new RegExp(`^-> Redirected to slot \\[\\d+\\] located at 127\\.0\\.0\\.1:${proxyOf(fleet, m.id)}$`),
      );
    return redirects.length;
  }

  /** The same for a key on every master; at least two masters are behind other proxies, so redirects happen. */
  async function everyMaster(fleet: TestFleet, args: string[], prefix: string): Promise<void> {
    let redirects = 0;
    for (const m of masters) redirects += await setGetFollowingRedirects(fleet, args, m, `${prefix}-${m.id}`);
    expect(redirects).toBeGreaterThanOrEqual(2);
  }

  /** ioredis options that turn a wrong address (a leaked Redis port) into failed commands, not endless retries. */
  const failFast = (redisOptions: RedisOptions = {}): ClusterOptions => ({
    clusterRetryStrategy: () => null,
    maxRedirections: 4,
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 5000, ...redisOptions },
  });

  const withTls = (edit: (c: ConnectionConfig) => void) => (config: { connections: ConnectionConfig[] }) =>
    config.connections.forEach(edit);
  const serverTls = () => ({ enabled: true, ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });

  async function fleet(edit: (c: ConnectionConfig) => void, log = captureLogger()): Promise<TestFleet> {
    const f = await startFleet({ seeds: cluster.seeds.slice(0, 2), log, edit: withTls(edit) });
    fleets.push(f);
    return f;
  }

  beforeAll(async () => {
    certs = makeTestCerts();
    cluster = await startCluster({ tls: { caFile: certs.ca, certFile: certs.serverCert, keyFile: certs.serverKey } });
    redisPorts = cluster.nodes.map((n) => n.port);
    sortedIds = cluster.nodes.map((n) => n.id).sort();
    const slots = JSON.parse(await cluster.cli(0, '--json', 'CLUSTER', 'SLOTS')) as Array<
      [number, number, [string, number, string]]
    >;
    const byId = new Map<string, Master>();
    for (const [lo, hi, [, port, id]] of slots) {
      const m = byId.get(id) ?? { id, port, slots: [], key: '' };
      m.slots.push([lo, hi]);
      byId.set(id, m);
    }
    masters = [...byId.values()];
    expect(masters).toHaveLength(3);
    // One key per master, asked of Redis itself.
    for (const [i, m] of masters.entries()) {
      for (let n = 0; !m.key; n++) {
        const key = `tls:{m${i}-${n}}`;
        const slot = Number((await cluster.cli(0, 'CLUSTER', 'KEYSLOT', key)).trim());
        if (m.slots.some(([lo, hi]) => slot >= lo && slot <= hi)) m.key = key;
      }
    }
  });

  afterAll(async () => {
    await Promise.all(fleets.map((f) => f.stop()));
    await cluster?.stop();
    certs?.cleanup();
  });

  describe('plain clients, TLS toward Redis (serverTls)', () => {
    let plain: TestFleet;
    beforeAll(async () => {
      plain = await fleet((c) => {
        c.serverTls = serverTls();
      });
    });

    it('redis-cli -c sets and gets a key on every master through one proxy', async () => {
      await everyMaster(plain, ['-p', String(plain.ports[0])], 'v');
    });

    it('redirects name the proxy that fronts the owning node, never a Redis TLS port', async () => {
      const c = await RawClient.connect(plain.ports[0]!);
      try {
        const here = sortedIds[0]!;
        for (const m of masters.filter((x) => x.id !== here)) {
          c.send(encodeCommand(['GET', m.key]));
          const r = await c.reply();
          expect(r.type).toBe(RespType.Error);
          expect(r.text).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${proxyOf(plain, m.id)}$`));
        }
      } finally {
        c.close();
      }
    });

    it('CLUSTER NODES, SLOTS and SHARDS name only proxy ports', async () => {
      const port = String(plain.ports[1]);
      const nodes = (await redisCli(['-p', port, 'CLUSTER', 'NODES'])).join('\n');
      expect(nodes.split('\n')).toHaveLength(6);
      onlyProxyPorts(plain, portsIn(nodes.replace(/@\d+/g, '')));
      for (const line of nodes.split('\n')) {
        const [id, addr] = line.split(' ');
        expect(addr!.replace(/@.*/, '')).toBe(`127.0.0.1:${proxyOf(plain, id!)}`);
      }
      noRedisPort(nodes);
      const slots = JSON.parse((await redisCli(['-p', port, '--json', 'CLUSTER', 'SLOTS'])).join('\n'));
      onlyProxyPorts(plain, slotPorts(slots));
      const shards = JSON.parse((await redisCli(['-p', port, '--json', 'CLUSTER', 'SHARDS'])).join('\n'));
      onlyProxyPorts(plain, shardPorts(shards));
      noRedisPort(JSON.stringify(shards));
    });

    it('ioredis Cluster given one proxy address writes and reads 1,000 keys and learns only proxies', async () => {
      const c = new Cluster([{ host: '127.0.0.1', port: plain.ports[0]! }], failFast());
      try {
        const keys = Array.from({ length: 1000 }, (_, i) => `tls:plain:${i}`);
        expect(await Promise.all(keys.map((k, i) => c.set(k, `v${i}`)))).toEqual(keys.map(() => 'OK'));
        expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => `v${i}`));
        onlyProxyPorts(
          plain,
          c.nodes('all').map((n) => n.options.port!),
        );
        expect(c.nodes('master')).toHaveLength(3);
      } finally {
        c.disconnect();
      }
    });
  });

  describe('TLS clients through a TLS listener (clientTls + serverTls)', () => {
    let secure: TestFleet;
    const cli = (...args: string[]) => ['--tls', '--cacert', certs.ca, ...args];
    beforeAll(async () => {
      secure = await fleet((c) => {
        c.serverTls = serverTls();
        c.clientTls = { enabled: true, cert: certs.serverCert, key: certs.serverKey };
      });
    });

    it('redis-cli --tls -c sets and gets a key on every master', async () => {
      await everyMaster(secure, cli('-p', String(secure.ports[2])), 'w');
    });

    it('replies name the TLS listener ports', async () => {
      const port = String(secure.ports[0]);
      const here = sortedIds[0]!;
      for (const m of masters.filter((x) => x.id !== here)) {
        const out = (await redisCli(cli('-p', port, 'GET', m.key))).join('\n');
        expect(out).toMatch(new RegExp(`MOVED \\d+ 127\\.0\\.0\\.1:${proxyOf(secure, m.id)}$`));
      }
      const nodes = (await redisCli(cli('-p', port, 'CLUSTER', 'NODES'))).join('\n');
      onlyProxyPorts(secure, portsIn(nodes.replace(/@\d+/g, '')));
      noRedisPort(nodes);
      onlyProxyPorts(
        secure,
        slotPorts(JSON.parse((await redisCli(cli('-p', port, '--json', 'CLUSTER', 'SLOTS'))).join('\n'))),
      );
      const shards = JSON.parse((await redisCli(cli('-p', port, '--json', 'CLUSTER', 'SHARDS'))).join('\n'));
      onlyProxyPorts(secure, shardPorts(shards));
    });

    it('ioredis Cluster with tls options writes and reads 1,000 keys through one proxy', async () => {
      const c = new Cluster(
        [{ host: '127.0.0.1', port: secure.ports[1]! }],
        failFast({ tls: { ca: fs.readFileSync(certs.ca) } }),
      );
      try {
        const keys = Array.from({ length: 1000 }, (_, i) => `tls:secure:${i}`);
        expect(await Promise.all(keys.map((k, i) => c.set(k, `s${i}`)))).toEqual(keys.map(() => 'OK'));
        expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((_, i) => `s${i}`));
        onlyProxyPorts(
          secure,
          c.nodes('all').map((n) => n.options.port!),
        );
      } finally {
        c.disconnect();
      }
    });

    it('refuses a plaintext client on the TLS listener', async () => {
      await expect(redisCli(['-p', String(secure.ports[0]), 'PING'])).rejects.toThrow();
    });
  });

  describe('requireClientCert', () => {
    let mtls: TestFleet;
    const log = captureLogger();
    beforeAll(async () => {
      mtls = await fleet((c) => {
        c.serverTls = serverTls();
        c.clientTls = {
          enabled: true,
          cert: certs.serverCert,
          key: certs.serverKey,
          ca: certs.ca,
          requireClientCert: true,
        };
      }, log);
    });

    it('rejects a client without a certificate, and logs it with its address', async () => {
      const r = await tlsPing(mtls.ports[0]!, { ca: fs.readFileSync(certs.ca) });
      expect(r.reply).toBeUndefined();
      await expect(redisCli(['--tls', '--cacert', certs.ca, '-p', String(mtls.ports[0]), 'PING'])).rejects.toThrow();
      await waitFor(
        () => log.at('warn').some((e) => e.msg === 'client TLS handshake failed'),
        'the rejection in the log',
      );
      const entry = log.at('warn').find((e) => e.msg === 'client TLS handshake failed')!;
      expect(entry.obj).toMatchObject({
        client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        err: expect.stringContaining('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'),
      });
    });

    it('rejects a certificate signed by another CA', async () => {
      const r = await tlsPing(mtls.ports[0]!, {
        ca: fs.readFileSync(certs.ca),
        cert: fs.readFileSync(certs.otherClientCert),
        key: fs.readFileSync(certs.otherClientKey),
      });
      expect(r.reply).toBeUndefined();
      await waitFor(
        () => log.at('warn').some((e) => String(e.obj.err).includes('client certificate rejected')),
        'the rejection in the log',
      );
    });

    it('serves a client with a CA-signed certificate', async () => {
      const args = [
        '--tls',
        '--cacert',
        certs.ca,
        '--cert',
        certs.clientCert,
        '--key',
        certs.clientKey,
        '-p',
        String(mtls.ports[0]),
      ];
      await everyMaster(mtls, args, 'm');
    });
  });

  describe('verification on, wrong CA toward Redis', () => {
    let bad: TestFleet;
    const log = captureLogger();
    beforeAll(async () => {
      bad = await fleet((c) => {
        c.serverTls = { enabled: true, ca: certs.otherCa };
      }, log);
    });

    // redis-server sends the CA of tls-ca-cert-file along with its certificate (OpenSSL builds the
    // chain), so the check fails on a CA we do not trust rather than on the leaf.
    const reason = 'TLS: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)';
    // The client is told why; the log also says which Redis node (clients never learn Redis addresses).
    const verifyFailure = `ERR slotrelay: cannot read the cluster topology from any Redis server (cannot connect to Redis: ${reason}); the next connection tries again`;

    async function ask(): Promise<string> {
      const c = await RawClient.connect(bad.ports[0]!);
      try {
        c.send(encodeCommand(['GET', masters[0]!.key]));
        const r = await c.reply();
        expect(r.type).toBe(RespType.Error);
        return r.text!;
      } finally {
        c.close();
      }
    }

    it('answers the client with a clear error, logs the verification failure, and stays up', async () => {
      const first = await ask();
      expect(first).toBe(verifyFailure);
      const failures = log.at('warn').filter((e) => e.msg === 'TLS connection to Redis failed');
      expect(failures.length).toBeGreaterThan(0);
      expect(failures[0]!.obj).toMatchObject({
        connection: expect.any(String),
        redis: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        err: reason,
      });

      // Nothing was fixed: the next connection is accepted and gets the same clear error.
      const second = await ask();
      expect(second).toBe(verifyFailure);
      expect(bad.fleet.listeners.size).toBe(6);
      expect(log.at('error').filter((e) => /uncaught|crash/i.test(e.msg))).toEqual([]);
    });
  });
});
