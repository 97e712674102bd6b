import fs from 'node:fs';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { encodeCommand } from '@slotrelay/core';
import { type TestFleet, startFleet } from './support/fleet.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from './support/certs.js';
import { captureLogger, waitFor } from './support/log.js';

// Security review (issue 13), TLS part: with clientTls.requireClientCert a client without a
// certificate, or with one from another CA, is refused at the handshake and never gets to send an
// admin command; a client certificate is not admin AUTH.

const PASSWORD = 'correct horse battery staple';

/** Connect with node:tls, send `requests` once the handshake is done; the replies, or how it ended without one. */
function tlsAsk(
  port: number,
  opts: tls.ConnectionOptions,
  requests: Buffer,
  replies: number,
): Promise<{ replies: string[]; error?: string }> {
  return new Promise((resolve) => {
    let text = '';
    let settled = false;
    const sock = tls.connect({ host: '127.0.0.1', port, ...opts });
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      const lines = text.split('\r\n').filter((l) => l !== '');
      resolve({ replies: lines, ...(error === undefined ? {} : { error }) });
    };
    sock.on('secureConnect', () => sock.write(requests));
    sock.on('data', (d) => {
      text += d.toString();
      if (text.split('\r\n').length > replies) finish();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    sock.on('close', () => finish('closed'));
  });
}

const PATCH = JSON.stringify([{ op: 'add', path: '/shutdownGraceMs', value: 500 }]);

describe.skipIf(!hasOpenssl())('admin commands behind clientTls.requireClientCert', () => {
  let certs: TestCerts;
  let fleet: TestFleet;
  const log = captureLogger();

  beforeAll(async () => {
    certs = makeTestCerts();
    fleet = await startFleet({
      seeds: inject('cluster').seeds.slice(0, 2),
      count: 1,
      log,
      edit: (c) => {
        c.adminPassword = PASSWORD;
        c.connections[0]!.clientTls = {
          enabled: true,
          cert: certs.serverCert,
          key: certs.serverKey,
          ca: certs.ca,
          requireClientCert: true,
        };
      },
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    certs?.cleanup();
  });

  const ca = () => fs.readFileSync(certs.ca);
  const help = encodeCommand(['GALLIUMDATA', 'HELP']);

  it('refuses a client without a certificate at the handshake: no admin command is answered', async () => {
    const before = log.at('warn').length;
    const r = await tlsAsk(fleet.ports[0]!, { ca: ca() }, help, 1);
    expect(r.replies).toEqual([]);
    expect(r.error).toBeDefined();
    await waitFor(() => log.at('warn').length > before, 'the handshake failure to be logged');
    expect(log.at('warn').slice(before)).toContainEqual(
      expect.objectContaining({ msg: 'client TLS handshake failed' }),
    );
  });

  it('refuses a certificate from another CA at the handshake', async () => {
    const before = log.at('warn').length;
    const r = await tlsAsk(
      fleet.ports[0]!,
      { ca: ca(), cert: fs.readFileSync(certs.otherClientCert), key: fs.readFileSync(certs.otherClientKey) },
      help,
      1,
    );
    expect(r.replies).toEqual([]);
    expect(r.error).toBeDefined();
    await waitFor(() => log.at('warn').length > before, 'the handshake failure to be logged');
    const failure = log
      .at('warn')
      .slice(before)
      .find((e) => e.msg === 'client TLS handshake failed');
    expect(failure?.obj.err).toMatch(/^client certificate rejected: /);
  });

  it('serves a client certificate of clientTls.ca, which still needs GALLIUMDATA AUTH for writes', async () => {
    const mine = { ca: ca(), cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) };
    const requests = Buffer.concat([
      encodeCommand(['GALLIUMDATA', 'CONFIG', 'PATCH', PATCH]),
      encodeCommand(['GALLIUMDATA', 'AUTH', PASSWORD]),
      encodeCommand(['GALLIUMDATA', 'CONFIG', 'PATCH', PATCH]),
    ]);
    const r = await tlsAsk(fleet.ports[0]!, mine, requests, 3);
    expect(r.replies).toEqual([
      '-ERR admin writes need GALLIUMDATA AUTH first',
      '+OK',
      '+OK shutdownGraceMs: unset -> 500',
    ]);
  });
});
