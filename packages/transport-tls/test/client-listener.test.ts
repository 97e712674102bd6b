import fs from 'node:fs';
import net, { type Server, type Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTlsServer, tlsServerFactory } from '../src/index.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from './certs.js';
import { captureLogger, close, listen, tlsPing, waitFor } from './helpers.js';

/** A listener whose sessions answer every chunk with +PONG. */
function pongServer(factory: (onConnection: (s: Socket) => void) => Server): { server: Server; accepted: Socket[] } {
  const accepted: Socket[] = [];
  const server = factory((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.on('data', () => s.write('+PONG\r\n'));
    s.on('end', () => s.end());
  });
  return { server, accepted };
}

describe.skipIf(!hasOpenssl())('TLS listener for clients', () => {
  let certs: TestCerts;
  let servers: Server[] = [];
  const fingerprint = (file: string) => new X509Certificate(fs.readFileSync(file)).fingerprint256;

  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.cleanup());
  afterEach(async () => {
    await Promise.all(servers.map(close));
    servers = [];
  });

  async function start(cfg: Parameters<typeof createTlsServer>[0], log = captureLogger()) {
    const tlsServer = createTlsServer(cfg, log);
    const { server, accepted } = pongServer(tlsServer.factory);
    servers.push(server);
    const port = await listen(server);
    return { tlsServer, server, accepted, port, log };
  }

  it('completes a handshake and hands the secured socket to the listener', async () => {
    const { port, accepted, log } = await start({ enabled: true, cert: certs.serverCert, key: certs.serverKey });
    const r = await tlsPing(port, { ca: fs.readFileSync(certs.ca) });
    expect(r).toEqual({ reply: '+PONG\r\n', fingerprint256: fingerprint(certs.serverCert) });
    expect(accepted).toHaveLength(1);
    // The files loaded are logged with what an operator needs to recognise them.
    const loaded = log.at('info').find((e) => e.msg === 'TLS files loaded');
    expect(loaded?.obj.certificates).toEqual([
      expect.objectContaining({ file: certs.serverCert, subject: 'CN=localhost' }),
    ]);
  });

  it('verifies by hostname too: the certificate names localhost and 127.0.0.1', async () => {
    const { port } = await start({ enabled: true, cert: certs.serverCert, key: certs.serverKey });
    expect((await tlsPing(port, { ca: fs.readFileSync(certs.ca), servername: 'localhost' })).reply).toBe('+PONG\r\n');
  });

  describe('requireClientCert', () => {
    const mtls = () => ({
      enabled: true,
      cert: certs.serverCert,
      key: certs.serverKey,
      ca: certs.ca,
      requireClientCert: true,
    });

    it('serves a client whose certificate chains to clientTls.ca', async () => {
      const { port, accepted } = await start(mtls());
      const r = await tlsPing(port, {
        ca: fs.readFileSync(certs.ca),
        cert: fs.readFileSync(certs.clientCert),
        key: fs.readFileSync(certs.clientKey),
      });
      expect(r.reply).toBe('+PONG\r\n');
      expect((accepted[0] as import('node:tls').TLSSocket).authorized).toBe(true);
    });

    it('rejects a client without a certificate, logs its address and the reason, and keeps accepting', async () => {
      const { port, accepted, log } = await start(mtls());
      const r = await tlsPing(port, { ca: fs.readFileSync(certs.ca) });
      expect(r.reply).toBeUndefined();
      await waitFor(() => log.at('warn').length > 0, 'the handshake failure to be logged');
      const [entry] = log.at('warn');
      expect(entry!.msg).toBe('client TLS handshake failed');
      expect(entry!.obj.client).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(entry!.obj.err).toMatch(/peer did not return a certificate \(ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE\)/);
      expect(accepted).toHaveLength(0);

      const ok = await tlsPing(port, {
        ca: fs.readFileSync(certs.ca),
        cert: fs.readFileSync(certs.clientCert),
        key: fs.readFileSync(certs.clientKey),
      });
      expect(ok.reply).toBe('+PONG\r\n');
      expect(accepted).toHaveLength(1);
    });

    it('rejects a certificate from an unrelated CA, naming the verification failure', async () => {
      const { port, accepted, log } = await start(mtls());
      const r = await tlsPing(port, {
        ca: fs.readFileSync(certs.ca),
        cert: fs.readFileSync(certs.otherClientCert),
        key: fs.readFileSync(certs.otherClientKey),
      });
      expect(r.reply).toBeUndefined();
      await waitFor(() => log.at('warn').length > 0, 'the handshake failure to be logged');
      const [entry] = log.at('warn');
      expect(entry!.obj.client).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(entry!.obj.err).toBe(
        'client certificate rejected: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      );
      expect(accepted).toHaveLength(0);
    });

    it('refuses requireClientCert without a CA of its own (any public certificate would pass)', () => {
      expect(() =>
        createTlsServer(
          { enabled: true, cert: certs.serverCert, key: certs.serverKey, requireClientCert: true },
          captureLogger(),
        ),
      ).toThrow('clientTls.requireClientCert needs clientTls.ca: the CA that client certificates must chain to');
    });
  });

  it('logs a plaintext client on the TLS listener and never hands it to a session', async () => {
    const { port, accepted, log } = await start({ enabled: true, cert: certs.serverCert, key: certs.serverKey });
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('*1\r\n$4\r\nPING\r\n'));
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    await waitFor(() => log.at('warn').length > 0, 'the handshake failure to be logged');
    expect(log.at('warn')[0]!.obj.err).toBe(
      'wrong version number (ERR_SSL_WRONG_VERSION_NUMBER); the other side is probably not speaking TLS',
    );
    expect(accepted).toHaveLength(0);
  });

  it('refuses to start without a certificate and key, naming the fields', () => {
    expect(() => createTlsServer({ enabled: true, cert: certs.serverCert }, captureLogger())).toThrow(
      /clientTls needs both cert and key/,
    );
    expect(() =>
      tlsServerFactory({ enabled: true, cert: '/nonexistent/proxy.crt', key: certs.serverKey }, captureLogger()),
    ).toThrow("clientTls.cert file '/nonexistent/proxy.crt' cannot be read: ENOENT: no such file or directory");
  });
});
