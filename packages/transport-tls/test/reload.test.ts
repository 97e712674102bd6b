import fs from 'node:fs';
import type { Server, Socket } from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClientTlsConfig } from '@slotrelay/core';
import { createTlsDialer, createTlsServer } from '../src/index.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from './certs.js';
import { captureLogger, close, listen, tlsPing } from './helpers.js';

describe.skipIf(!hasOpenssl())('reloading certificates', () => {
  let certs: TestCerts;
  let servers: Server[] = [];
  const sockets: Socket[] = [];
  const fingerprint = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256;

  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.cleanup());
  afterEach(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    await Promise.all(servers.map(close));
    servers = [];
  });

  describe('the client listener', () => {
    const first = (): ClientTlsConfig => ({ enabled: true, cert: certs.serverCert, key: certs.serverKey });
    const ca = () => fs.readFileSync(certs.ca);

    async function start() {
      const log = captureLogger();
      const tlsServer = createTlsServer(first(), log);
      const server = tlsServer.factory((s) => {
        sockets.push(s);
        s.on('error', () => {});
        s.on('data', () => s.write('+PONG\r\n'));
      });
      servers.push(server);
      return { tlsServer, server, log, port: await listen(server) };
    }

    it('uses a new certificate for new connections; an open connection keeps working', async () => {
      const { tlsServer, port, log } = await start();
      const open = tls.connect({ host: '127.0.0.1', port, ca: ca() });
      sockets.push(open);
      await new Promise((r) => open.once('secureConnect', r));
      expect(open.getPeerX509Certificate()?.fingerprint256).toBe(fingerprint(certs.serverCert));

      tlsServer.reload({ enabled: true, cert: certs.server2Cert, key: certs.server2Key });

      expect((await tlsPing(port, { ca: ca() })).fingerprint256).toBe(fingerprint(certs.server2Cert));
      const reply = new Promise<string>((r) => open.once('data', (d) => r(d.toString())));
      open.write('PING\r\n');
      expect(await reply).toBe('+PONG\r\n');
      expect(log.at('info').find((e) => e.msg === 'TLS files reloaded')?.obj.certificates).toEqual([
        expect.objectContaining({ file: certs.server2Cert, subject: 'CN=localhost (second)' }),
      ]);
    });

    it('throws naming the bad file and keeps the old certificate in use', async () => {
      const { tlsServer, port } = await start();
      expect(() => tlsServer.reload({ enabled: true, cert: certs.garbage, key: certs.server2Key })).toThrow(
        `clientTls.cert file '${certs.garbage}' holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`,
      );
      expect(() => tlsServer.reload({ enabled: true, cert: certs.server2Cert, key: certs.serverKey })).toThrow(
        `clientTls.key file '${certs.serverKey}' does not belong to the certificate in clientTls.cert file '${certs.server2Cert}'`,
      );
      expect(() =>
        tlsServer.reload({ enabled: true, cert: certs.server2Cert, key: `${certs.dir}/missing.key` }),
      ).toThrow(`clientTls.key file '${certs.dir}/missing.key' cannot be read: ENOENT: no such file or directory`);
      const r = await tlsPing(port, { ca: ca() });
      expect(r).toEqual({ reply: '+PONG\r\n', fingerprint256: fingerprint(certs.serverCert) });
    });

    it('re-reads files whose paths did not change (rotation in place)', async () => {
      const dir = fs.mkdtempSync(`${certs.dir}/rotate-`);
      fs.copyFileSync(certs.serverCert, `${dir}/tls.crt`);
      fs.copyFileSync(certs.serverKey, `${dir}/tls.key`);
      const cfg: ClientTlsConfig = { enabled: true, cert: `${dir}/tls.crt`, key: `${dir}/tls.key` };
      const tlsServer = createTlsServer(cfg, captureLogger());
      const server = tlsServer.factory((s) => {
        sockets.push(s);
        s.on('data', () => s.write('+PONG\r\n'));
      });
      servers.push(server);
      const port = await listen(server);
      fs.copyFileSync(certs.server2Cert, `${dir}/tls.crt`);
      fs.copyFileSync(certs.server2Key, `${dir}/tls.key`);
      tlsServer.reload(cfg);
      expect((await tlsPing(port, { ca: ca() })).fingerprint256).toBe(fingerprint(certs.server2Cert));
    });

    it('turns requireClientCert on for new handshakes', async () => {
      const { tlsServer, port } = await start();
      expect((await tlsPing(port, { ca: ca() })).reply).toBe('+PONG\r\n');
      tlsServer.reload({ ...first(), ca: certs.ca, requireClientCert: true });
      expect((await tlsPing(port, { ca: ca() })).reply).toBeUndefined();
      const withCert = await tlsPing(port, {
        ca: ca(),
        cert: fs.readFileSync(certs.clientCert),
        key: fs.readFileSync(certs.clientKey),
      });
      expect(withCert.reply).toBe('+PONG\r\n');
    });

    it('prepare checks without applying; commit applies', async () => {
      const { tlsServer, port } = await start();
      const change = tlsServer.prepare({ enabled: true, cert: certs.server2Cert, key: certs.server2Key });
      expect((await tlsPing(port, { ca: ca() })).fingerprint256).toBe(fingerprint(certs.serverCert));
      change.commit();
      expect((await tlsPing(port, { ca: ca() })).fingerprint256).toBe(fingerprint(certs.server2Cert));
    });
  });

  describe('the Redis dialer', () => {
    async function fakeRedis() {
      const server = tls.createServer(
        { cert: fs.readFileSync(certs.serverCert), key: fs.readFileSync(certs.serverKey) },
        (s) => {
          sockets.push(s);
          s.on('error', () => {});
        },
      );
      server.on('tlsClientError', () => {});
      servers.push(server);
      return listen(server);
    }

    it('verifies new dials with the new CA', async () => {
      const port = await fakeRedis();
      const dialer = createTlsDialer({ enabled: true, ca: certs.otherCa }, captureLogger());
      await expect(dialer.dial({ host: '127.0.0.1', port })).rejects.toThrow(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      dialer.reload({ enabled: true, ca: certs.ca });
      const sock = await dialer.dial({ host: '127.0.0.1', port });
      sockets.push(sock);
      expect((sock as tls.TLSSocket).authorized).toBe(true);
    });

    it('throws naming the bad file and keeps the old settings', async () => {
      const port = await fakeRedis();
      const dialer = createTlsDialer({ enabled: true, ca: certs.ca }, captureLogger());
      expect(() => dialer.reload({ enabled: true, ca: `${certs.dir}/gone.crt` })).toThrow(
        `serverTls.ca file '${certs.dir}/gone.crt' cannot be read: ENOENT: no such file or directory`,
      );
      expect(() =>
        dialer.reload({ enabled: true, ca: certs.otherCa, cert: certs.garbage, key: certs.clientKey }),
      ).toThrow(/^serverTls\.cert file/);
      const sock = await dialer.dial({ host: '127.0.0.1', port });
      sockets.push(sock);
      expect((sock as tls.TLSSocket).authorized).toBe(true);
    });

    it('warns when a reload turns verification off, not again while it stays off', () => {
      const log = captureLogger();
      const dialer = createTlsDialer({ enabled: true, ca: certs.ca }, log);
      expect(log.at('warn')).toEqual([]);
      dialer.reload({ enabled: true, ca: certs.ca, trustServerCertificate: true });
      dialer.reload({ enabled: true, ca: certs.ca, trustServerCertificate: true });
      expect(log.at('warn').map((e) => e.msg)).toEqual([expect.stringMatching(/Redis certificates are NOT verified/)]);
    });
  });
});
