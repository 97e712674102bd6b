import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TLS_FILE_BYTES, loadTlsMaterial } from '../src/index.js';
import { type TestCerts, hasOpenssl, makeTestCerts } from './certs.js';

describe.skipIf(!hasOpenssl())('TLS files are checked before use', () => {
  let certs: TestCerts;
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.cleanup());

  it('accepts a CA bundle and summarizes every certificate in it', () => {
    const bundle = `${certs.dir}/bundle.crt`;
    fs.writeFileSync(bundle, Buffer.concat([fs.readFileSync(certs.ca), fs.readFileSync(certs.otherCa)]));
    const m = loadTlsMaterial('serverTls', { ca: bundle, cert: certs.clientCert, key: certs.clientKey });
    expect(m.certificates.map((c) => c.subject)).toEqual([
      'CN=slotrelay test client',
      'CN=slotrelay test CA',
      'CN=unrelated test CA',
    ]);
    expect(
      m.certificates.every(
        (c) => !c.expired && !c.notYetValid && /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(c.fingerprint256),
      ),
    ).toBe(true);
  });

  it('names the certificate of a bundle that does not parse', () => {
    const bundle = `${certs.dir}/broken-bundle.crt`;
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    fs.writeFileSync(bundle, `${fs.readFileSync(certs.ca, 'latin1')}${broken}`);
    expect(() => loadTlsMaterial('clientTls', { ca: bundle })).toThrow(
      new RegExp(`^clientTls\\.ca file '${bundle}': certificate #2 cannot be parsed: `),
    );
  });

  it('refuses a key that is a certificate, and a directory given as a file', () => {
    expect(() => loadTlsMaterial('clientTls', { cert: certs.serverCert, key: certs.serverCert })).toThrow(
      new RegExp(`^clientTls\\.key file '${certs.serverCert}' holds no usable private key: `),
    );
    expect(() => loadTlsMaterial('serverTls', { ca: certs.dir })).toThrow(
      `serverTls.ca file '${certs.dir}' cannot be read: EISDIR: illegal operation on a directory`,
    );
  });

  it('reads only regular files of sane size: a device or an oversized file is refused before reading (paths can come from CONFIG PATCH)', () => {
    expect(() => loadTlsMaterial('clientTls', { ca: '/dev/null' })).toThrow(
      "clientTls.ca file '/dev/null' is not a regular file",
    );
    const big = `${certs.dir}/huge.crt`;
    fs.writeFileSync(big, Buffer.concat([fs.readFileSync(certs.ca), Buffer.alloc(MAX_TLS_FILE_BYTES, 0x20)]));
    expect(() => loadTlsMaterial('clientTls', { ca: big })).toThrow(
      `clientTls.ca file '${big}' is ${fs.statSync(big).size} bytes, more than a TLS file should be (${MAX_TLS_FILE_BYTES})`,
    );
  });
});
