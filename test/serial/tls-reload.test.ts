import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RespNode, RespType, encodeCommand } from '@slotrelay/core';
import { type LocalCluster, startCluster } from '@slotrelay/local-cluster';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { tryConnect } from '../support/poll.js';
import { RawClient } from '../support/raw-client.js';
import { redisCli, splitRedirects } from '../support/redis-cli.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from '../../packages/transport-tls/test/certs.js';
import { captureLogger, tlsPing } from '../../packages/transport-tls/test/helpers.js';

// Client TLS certificates changed on a running fleet: CONFIG PATCH to other files (all checked
// before any is used: a bad one changes nothing), and the same files rewritten + reloadTls (SIGHUP).

const PASSWORD = 'tls reload admin';

describe.skipIf(!hasOpenssl())('client TLS certificates changed on a running fleet', () => {
  let certs: TestCerts;
  let cluster: LocalCluster;
  let fleet: TestFleet;
  let admin: RawClient;
  const log = captureLogger();
  const fp = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256;
  const ca = () => fs.readFileSync(certs.ca);
  /** The certificate a new TLS connection to `port` is shown, and whether the proxy answered PING. */
  const peer = async (port: number) => {
    const r = await tlsPing(port, { ca: ca() });
    expect(r.reply, `port ${port}: ${r.error}`).toBe('+PONG\r\n');
    return r.fingerprint256;
  };
  const ask = async (c: RawClient, ...args: string[]): Promise<RespNode> => {
    c.send(encodeCommand(args));
    return c.reply();
  };
  const patch = (ops: unknown) => ask(admin, 'GALLIUMDATA', 'CONFIG', 'PATCH', JSON.stringify(ops));
  const configGet = async () => (await ask(admin, 'GALLIUMDATA', 'CONFIG', 'GET')).data!.toString();
  const tlsOf = (i: number, cert: string, key: string) => [
    { op: 'replace', path: `/connections/${i}/clientTls/cert`, value: cert },
    { op: 'replace', path: `/connections/${i}/clientTls/key`, value: key },
  ];

  beforeAll(async () => {
    certs = makeTestCerts();
    cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
    fleet = await startFleet({
      seeds: cluster.seeds.slice(0, 1),
      count: 3,
      log,
      edit: (c) => {
        c.adminPassword = PASSWORD;
        for (const x of c.connections) x.clientTls = { enabled: true, cert: certs.serverCert, key: certs.serverKey };
      },
    });
    admin = await RawClient.connectTls(fleet.ports[2]!, { ca: ca() });
    expect((await ask(admin, 'GALLIUMDATA', 'AUTH', PASSWORD)).text).toBe('OK');
  });

  afterAll(async () => {
    admin?.close();
    await fleet?.stop();
    await cluster?.stop();
    certs?.cleanup();
  });

  it('serves TLS with the configured certificate', async () => {
    for (const port of fleet.ports) expect(await peer(port)).toBe(fp(certs.serverCert));
    const out = splitRedirects(
      await redisCli(
        ['--tls', '--cacert', certs.ca, '-c', '-p', String(fleet.ports[0])],
        'SET tlsr:a 1\nGET tlsr:a\nSET tlsr:b 2\nGET tlsr:b\n',
      ),
    );
    expect(out.replies).toEqual(['OK', '1', 'OK', '2']);
  });

  it('refuses a patch to a bad certificate or key: one clear -ERR, the listener keeps serving its old certificate', async () => {
    const before = await configGet();
    const open = await RawClient.connectTls(fleet.ports[0]!, { ca: ca() });
    try {
      const cases: Array<[string, unknown, RegExp]> = [
        [
          'a file without PEM',
          tlsOf(0, certs.garbage, certs.serverKey),
          /^ERR config: connections\[0\]\.clientTls\.cert file '.*garbage\.pem' /,
        ],
        [
          'a missing file',
          tlsOf(0, path.join(certs.dir, 'nope.crt'), certs.serverKey),
          /^ERR config: connections\[0\]\.clientTls\.cert file '.*nope\.crt' cannot be read: ENOENT/,
        ],
        [
          'a key of another certificate',
          tlsOf(0, certs.server2Cert, certs.serverKey),
          /^ERR config: connections\[0\]\.clientTls\.(cert|key) /,
        ],
        [
          'a key that is not a key',
          tlsOf(0, certs.server2Cert, certs.garbage),
          /^ERR config: connections\[0\]\.clientTls\.key file '.*garbage\.pem' /,
        ],
        // All or nothing over listeners: proxy-1's new files are good, proxy-2's are not.
        [
          'one good and one bad listener',
          [...tlsOf(0, certs.server2Cert, certs.server2Key), ...tlsOf(1, certs.garbage, certs.garbage)],
          /^ERR config: connections\[1\]\.clientTls\./,
        ],
        [
          'clientTls without a key',
          [{ op: 'remove', path: '/connections/0/clientTls/key' }],
          /^ERR config: connections\[0\]\.clientTls needs both cert and key when enabled$/,
        ],
      ];
      for (const [what, ops, reply] of cases) {
        const r = await patch(ops);
        expect(r.type, `${what}: ${r.text}`).toBe(RespType.Error);
        expect(r.text, what).toMatch(reply);
        expect(r.text, what).not.toMatch(/[\r\n]/);
        expect(await configGet(), what).toBe(before);
        for (const port of fleet.ports) expect(await peer(port), `${what}: port ${port}`).toBe(fp(certs.serverCert));
      }
      expect(await open.call('PING')).toBe('PONG');
      expect(log.at('info').filter((e) => e.msg === 'TLS files reloaded')).toEqual([]);
    } finally {
      open.close();
    }
  });

  it('a patch to a new valid certificate: new TLS connections see it, open ones keep working, other listeners keep theirs', async () => {
    const open = await RawClient.connectTls(fleet.ports[0]!, { ca: ca() });
    try {
      expect(open.socket.constructor.name).toBe('TLSSocket');
      const r = await patch(tlsOf(0, certs.server2Cert, certs.server2Key));
      expect(r.type, r.text).toBe(RespType.SimpleString);
      expect(r.text).toBe('OK reloaded TLS of proxy-1');
      expect(await peer(fleet.ports[0]!)).toBe(fp(certs.server2Cert));
      const subject = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: fleet.ports[0]!, ca: ca() }, () => {
          resolve(s.getPeerX509Certificate()!.subject);
          s.end(); // a clean close (see the last test for an abrupt one)
        });
        s.once('error', reject);
      });
      expect(subject).toBe('CN=localhost (second)');
      expect(await peer(fleet.ports[1]!)).toBe(fp(certs.serverCert));
      expect(await peer(fleet.ports[2]!)).toBe(fp(certs.serverCert));
      // The listener was not rebound: the connection opened before the change still works.
      expect(await open.call('PING')).toBe('PONG');
      expect(fleet.fleet.listeners.size).toBe(3);
      expect(
        (JSON.parse(await configGet()) as { connections: Array<{ clientTls: { cert: string } }> }).connections[0]!
          .clientTls.cert,
      ).toBe(certs.server2Cert);
      // Cluster clients over TLS keep working through the reloaded listener.
      const out = splitRedirects(
        await redisCli(
          ['--tls', '--cacert', certs.ca, '-c', '-p', String(fleet.ports[0])],
          'SET tlsr:c 3\nGET tlsr:c\nGET tlsr:a\n',
        ),
      );
      expect(out.replies).toEqual(['OK', '3', '1']);
    } finally {
      open.close();
    }
  });

  it('files rewritten in place are picked up by reloadTls (SIGHUP); a bad rewrite leaves every listener as it was', async () => {
    const live = { cert: path.join(certs.dir, 'live.crt'), key: path.join(certs.dir, 'live.key') };
    fs.copyFileSync(certs.serverCert, live.cert);
    fs.copyFileSync(certs.serverKey, live.key);
    const r = await patch(tlsOf(2, live.cert, live.key));
    expect(r.text).toBe('OK reloaded TLS of proxy-3');
    expect(await peer(fleet.ports[2]!)).toBe(fp(certs.serverCert));

    fs.copyFileSync(certs.server2Cert, live.cert);
    fs.copyFileSync(certs.server2Key, live.key);
    expect(fleet.fleet.reloadTls()).toBe('3 TLS contexts reloaded');
    expect(await peer(fleet.ports[2]!)).toBe(fp(certs.server2Cert));

    fs.copyFileSync(certs.garbage, live.key);
    expect(() => fleet.fleet.reloadTls()).toThrow(/clientTls\.key file '.*live\.key'/);
    expect(await peer(fleet.ports[0]!)).toBe(fp(certs.server2Cert));
    expect(await peer(fleet.ports[1]!)).toBe(fp(certs.serverCert));
    expect(await peer(fleet.ports[2]!)).toBe(fp(certs.server2Cert));
    fs.copyFileSync(certs.server2Key, live.key); // every patch re-checks every TLS file of the config
  });

  it('turning clientTls off rebinds that listener as plain TCP; the others stay TLS', async () => {
    const r = await patch([{ op: 'replace', path: '/connections/1/clientTls/enabled', value: false }]);
    expect(r.text).toBe(`OK stopped proxy-2; started proxy-2 on 127.0.0.1:${fleet.ports[1]}`);
    expect(await redisCli(['-p', String(fleet.ports[1]), 'PING'])).toEqual(['PONG']);
    expect(await tryConnect(fleet.ports[1]!)).toBe('connected');
    expect(await peer(fleet.ports[0]!)).toBe(fp(certs.server2Cert));
    await expect(redisCli(['-p', String(fleet.ports[0]), 'PING'], '', 5000)).rejects.toThrow();
  });

  it('a client that hangs up right after its TLS handshake does not hold up shutdown', async () => {
    // TLS 1.3: the client is done before the server has read its Finished; the server-side socket of
    // such a connection never becomes a session (see the report: transport-tls's allowHalfOpen).
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: fleet.ports[0]!, ca: ca() }, () => {
          s.destroy();
          resolve();
        });
        s.once('error', reject);
      });
    }
    const started = Date.now();
    const stopped = await Promise.race([
      fleet.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('still stopping after 5 s'), 5000)),
    ]);
    expect(stopped).toBe('stopped');
    expect(Date.now() - started).toBeLessThan(2000); // startFleet's stop grace is 500 ms
    expect(await tryConnect(fleet.ports[0]!)).toBe('ECONNREFUSED');
  });
});
