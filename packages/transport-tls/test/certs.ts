import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of a throwaway PKI made by `openssl` (EC P-256 keys: fast to make). */
export interface TestCerts {
  readonly dir: string;
  /** The test CA. */
  readonly ca: string;
  /** A server certificate signed by `ca`, SAN IP:127.0.0.1, DNS:localhost (serverAuth + clientAuth). */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A second server certificate for the same names, signed by `ca` (to tell reloads apart). */
  readonly server2Cert: string;
  readonly server2Key: string;
  /** A client certificate signed by `ca`. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** An unrelated CA, and a client certificate it signed. */
  readonly otherCa: string;
  readonly otherClientCert: string;
  readonly otherClientKey: string;
  /** A file that holds no PEM at all. */
  readonly garbage: string;
  /** Remove the directory. */
  cleanup(): void;
}

/** True when `openssl` can be run (tests that need certificates skip without it). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Make a CA, server, second server, client, and an unrelated CA with its own client, in a temp dir. */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'slotrelay-tls-'));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string) =>
    ssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
    );
  const leaf = (name: string, cn: string, issuer: string, ext: string) => {
    ssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(f(`${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f(`${issuer}.crt`),
      '-CAkey',
      f(`${issuer}.key`),
      '-CAcreateserial',
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    );
  };
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n';
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  ca('ca', 'slotrelay test CA');
  ca('other-ca', 'unrelated test CA');
  leaf('server', 'localhost', 'ca', serverExt);
  leaf('server2', 'localhost (second)', 'ca', serverExt);
  leaf('client', 'slotrelay test client', 'ca', clientExt);
  leaf('other-client', 'stranger', 'other-ca', clientExt);
  writeFileSync(f('garbage.pem'), 'this is not a certificate\n');
  return {
    dir,
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    server2Cert: f('server2.crt'),
    server2Key: f('server2.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.crt'),
    otherClientCert: f('other-client.crt'),
    otherClientKey: f('other-client.key'),
    garbage: f('garbage.pem'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
