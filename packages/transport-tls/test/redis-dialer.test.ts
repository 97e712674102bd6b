import fs from 'node:fs';
import net, { type Server } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlotrelayError, type ServerTlsConfig } from '@slotrelay/core';
import { createTlsDialer, tlsDialer } from '../src/index.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from './certs.js';
import { captureLogger, close, listen } from './helpers.js';

/** What a fake TLS Redis saw of one client. */
interface Seen {
  servername: string | false | null;
  authorized: boolean;
  peerSubject: string | undefined;
}

describe.skipIf(!hasOpenssl())('TLS dialer toward Redis', () => {
  let certs: TestCerts;
  let servers: Server[] = [];
  const sockets: net.Socket[] = [];

  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.cleanup());
  afterEach(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    await Promise.all(servers.map(close));
    servers = [];
  });

  /**
   * A TLS "Redis" presenting `cert`. Like redis-server with only tls-cert-file, it sends the leaf
   * alone (no `ca` option), so a client with the wrong CA fails on the first certificate.
   */
  async function fakeRedis(opts: { cert?: string; key?: string; clientCa?: string } = {}) {
    const seen: Seen[] = [];
    const server = tls.createServer(
      {
        cert: fs.readFileSync(opts.cert ?? certs.serverCert),
        key: fs.readFileSync(opts.key ?? certs.serverKey),
        ...(opts.clientCa ? { ca: fs.readFileSync(opts.clientCa), requestCert: true, rejectUnauthorized: false } : {}),
      },
      (s) => {
        seen.push({
          servername: s.servername,
          authorized: s.authorized,
          peerSubject: s.getPeerX509Certificate()?.subject,
        });
        s.on('error', () => {});
        s.on('data', () => s.write('+PONG\r\n'));
      },
    );
    server.on('tlsClientError', () => {});
    servers.push(server);
    return { port: await listen(server), seen };
  }

  async function dialAndPing(dial: ReturnType<typeof tlsDialer>, host: string, port: number): Promise<string> {
    const sock = await dial({ host, port });
    sockets.push(sock);
    return new Promise((resolve) => {
      sock.once('data', (d) => resolve(d.toString()));
      sock.write('PING\r\n');
    });
  }

  const cfg = (extra: Partial<ServerTlsConfig> = {}): ServerTlsConfig => ({ enabled: true, ca: certs.ca, ...extra });

  it('connects, verifying the certificate against serverTls.ca and the IP dialed', async () => {
    const redis = await fakeRedis();
    const log = captureLogger();
    expect(await dialAndPing(tlsDialer(cfg(), log), '127.0.0.1', redis.port)).toBe('+PONG\r\n');
    // No SNI for an IP address (RFC 6066 allows host names only).
    expect(redis.seen).toEqual([{ servername: false, authorized: false, peerSubject: undefined }]);
    expect(log.at('warn')).toEqual([]);
  });

  it('sends the host dialed as SNI when it is a DNS name, and verifies against it', async () => {
    const redis = await fakeRedis();
    expect(await dialAndPing(tlsDialer(cfg(), captureLogger()), 'localhost', redis.port)).toBe('+PONG\r\n');
    expect(redis.seen[0]!.servername).toBe('localhost');
  });

  it('uses serverTls.servername for SNI and verification instead of the host dialed', async () => {
    const redis = await fakeRedis();
    expect(
      await dialAndPing(tlsDialer(cfg({ servername: 'localhost' }), captureLogger()), '127.0.0.1', redis.port),
    ).toBe('+PONG\r\n');
    expect(redis.seen[0]!.servername).toBe('localhost');

    const wrongName = tlsDialer(cfg({ servername: 'redis.example' }), captureLogger());
    await expect(wrongName({ host: '127.0.0.1', port: redis.port })).rejects.toThrow(
      new RegExp(
        `^cannot connect to Redis at 127\\.0\\.0\\.1:${redis.port}: TLS: Hostname/IP does not match certificate's altnames: .*redis\\.example.* \\(ERR_TLS_CERT_ALTNAME_INVALID\\)$`,
      ),
    );
  });

  it('rejects a certificate it cannot verify with a message that names the reason, and logs it', async () => {
    const redis = await fakeRedis();
    const log = captureLogger();
    const dial = tlsDialer(cfg({ ca: certs.otherCa }), log);
    const err = await dial({ host: '127.0.0.1', port: redis.port }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SlotrelayError);
    expect((err as SlotrelayError).code).toBe('SR_ERR_UPSTREAM');
    expect((err as Error).message).toBe(
      `cannot connect to Redis at 127.0.0.1:${redis.port}: TLS: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`,
    );
    expect(log.at('warn')).toEqual([
      {
        level: 'warn',
        msg: 'TLS connection to Redis failed',
        obj: {
          redis: `127.0.0.1:${redis.port}`,
          err: 'TLS: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
        },
      },
    ]);
    expect(redis.seen).toEqual([]);
  });

  it('skips verification with trustServerCertificate, warning once at start', async () => {
    const redis = await fakeRedis();
    const log = captureLogger();
    const dial = tlsDialer(cfg({ ca: certs.otherCa, trustServerCertificate: true }), log);
    expect(log.at('warn')).toHaveLength(1);
    expect(log.at('warn')[0]!.msg).toMatch(/trustServerCertificate is set: Redis certificates are NOT verified/);
    expect(await dialAndPing(dial, '127.0.0.1', redis.port)).toBe('+PONG\r\n');
    expect(await dialAndPing(dial, 'localhost', redis.port)).toBe('+PONG\r\n');
    expect(log.at('warn')).toHaveLength(1);
  });

  it('presents serverTls.cert/key as its client certificate', async () => {
    const redis = await fakeRedis({ clientCa: certs.ca });
    const dial = tlsDialer(cfg({ cert: certs.clientCert, key: certs.clientKey }), captureLogger());
    expect(await dialAndPing(dial, '127.0.0.1', redis.port)).toBe('+PONG\r\n');
    expect(redis.seen[0]).toMatchObject({ authorized: true, peerSubject: 'CN=slotrelay test client' });
  });

  it('reports a refused port without a TLS prefix, like the TCP dialer', async () => {
    const probe = net.createServer();
    const port = await listen(probe);
    await close(probe);
    const log = captureLogger();
    await expect(tlsDialer(cfg(), log)({ host: '127.0.0.1', port })).rejects.toThrow(
      `cannot connect to Redis at 127.0.0.1:${port}: ECONNREFUSED`,
    );
    expect(log.at('warn')).toEqual([]);
  });

  it('gives up on a peer that never finishes the handshake', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}).resume());
    servers.push(silent);
    const port = await listen(silent);
    const { dial } = createTlsDialer(cfg(), captureLogger(), { connectTimeoutMs: 200 });
    await expect(dial({ host: '127.0.0.1', port })).rejects.toThrow(
      `cannot connect to Redis at 127.0.0.1:${port}: TLS: handshake not finished within 200 ms`,
    );
  });

  it('names a plaintext Redis port as not speaking TLS', async () => {
    const plain = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', () => s.end("-ERR Protocol error: expected '$', got '\u0016'\r\n"));
    });
    servers.push(plain);
    const port = await listen(plain);
    await expect(tlsDialer(cfg(), captureLogger())({ host: '127.0.0.1', port })).rejects.toThrow(
      `cannot connect to Redis at 127.0.0.1:${port}: TLS: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER); the other side is probably not speaking TLS`,
    );
  });

  it('refuses bad files at start, naming the field, the file and the reason', () => {
    const log = captureLogger();
    expect(() => tlsDialer(cfg({ ca: certs.garbage }), log)).toThrow(
      `serverTls.ca file '${certs.garbage}' holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`,
    );
    expect(() => tlsDialer(cfg({ cert: certs.clientCert, key: certs.otherClientKey }), log)).toThrow(
      `serverTls.key file '${certs.otherClientKey}' does not belong to the certificate in serverTls.cert file '${certs.clientCert}'`,
    );
    expect(() => tlsDialer(cfg({ cert: certs.clientCert }), log)).toThrow(
      'serverTls.cert is set but serverTls.key is not',
    );
    expect(() => tlsDialer(cfg({ cert: certs.clientCert, key: certs.garbage }), log)).toThrow(
      new RegExp(`^serverTls\\.key file '${certs.garbage}' holds no usable private key: `),
    );
  });
});
