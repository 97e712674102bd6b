import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { ErrorCode, type Logger, SlotrelayError } from '@slotrelay/core';
import { describeFsError, opensslReason } from './reasons.js';

/** Which config object the files come from; error messages name fields as `serverTls.ca`. */
export type TlsSide = 'serverTls' | 'clientTls';

/** The file paths of one side (`ca`, `cert`, `key`), as in the config. */
export interface TlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** A prepared change of TLS settings: files read and checked, not yet in use. */
export interface TlsChange {
  /** Put the prepared settings in use for new connections. Never throws. */
  commit(): void;
}

/** What was loaded from one certificate file, for logs. */
export interface CertificateSummary {
  readonly file: string;
  readonly subject: string;
  readonly issuer: string;
  readonly validTo: string;
  /** SHA-256 fingerprint, colon-separated hex (as `openssl x509 -fingerprint -sha256` prints it). */
  readonly fingerprint256: string;
  readonly expired: boolean;
  readonly notYetValid: boolean;
}

/**
 * The contents of one side's files, checked: every PEM block parses, the key matches the
 * certificate, and OpenSSL accepts them together. The buffers are owned by this object and never
 * modified.
 */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** The leaf of `cert` and every certificate of `ca`. */
  readonly certificates: readonly CertificateSummary[];
  /** All three in one OpenSSL context (what a dialer passes as `secureContext`). */
  readonly context: tls.SecureContext;
}

/** Largest TLS file read: 4 MiB, ~20 times the whole Mozilla root bundle. */
export const MAX_TLS_FILE_BYTES = 4 * 1024 * 1024;

const PEM_CERT = /-----BEGIN (TRUSTED |X509 )?CERTIFICATE-----[\s\S]*?-----END \1?CERTIFICATE-----/g;

/** A configuration error about one TLS file. */
export function tlsFileError(message: string): SlotrelayError {
  return new SlotrelayError(ErrorCode.Config, message);
}

/**
 * Read and check every file of one side before anything uses them. Only regular files of at most
 * `MAX_TLS_FILE_BYTES` are read. Throws a `SlotrelayError`
 * (`SR_ERR_CONFIG`) naming the field, the file and the reason, e.g.
 * `clientTls.cert file '/etc/slotrelay/proxy.crt' cannot be read: ENOENT: no such file or directory`.
 */
export function loadTlsMaterial(side: TlsSide, files: TlsFiles): TlsMaterial {
  const read = (field: keyof TlsFiles): Buffer | undefined => {
    const path = files[field];
    if (path === undefined) return undefined;
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch (e) {
      throw tlsFileError(`${side}.${field} file '${path}' cannot be read: ${describeFsError(e)}`);
    }
    // Paths can come over the network (CONFIG PATCH): a FIFO would block the process in readFileSync
    // and /dev/zero would fill its memory. Directories fall through to readFileSync's EISDIR.
    if (!st.isFile() && !st.isDirectory()) throw tlsFileError(`${side}.${field} file '${path}' is not a regular file`);
    if (st.size > MAX_TLS_FILE_BYTES) {
      throw tlsFileError(
        `${side}.${field} file '${path}' is ${st.size} bytes, more than a TLS file should be (${MAX_TLS_FILE_BYTES})`,
      );
    }
    try {
      return fs.readFileSync(path);
    } catch (e) {
      throw tlsFileError(`${side}.${field} file '${path}' cannot be read: ${describeFsError(e)}`);
    }
  };
  // Read everything first: a half-read set of files must never be used.
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  const certificates: CertificateSummary[] = [];

  if (ca) {
    const blocks = pemCertificates(ca);
    if (blocks.length === 0)
      throw tlsFileError(
        `${side}.ca file '${files.ca}' holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`,
      );
    blocks.forEach((pem, i) => {
      // OpenSSL's TRUSTED/X509 CERTIFICATE forms are accepted as they are; only plain ones are summarized.
      if (pem.startsWith('-----BEGIN CERTIFICATE-----'))
        certificates.push(summarize(side, 'ca', files.ca!, pem, blocks.length > 1 ? i + 1 : 0));
    });
  }
  if ((cert === undefined) !== (key === undefined)) {
    const [has, missing] = cert ? ['cert', 'key'] : ['key', 'cert'];
    throw tlsFileError(`${side}.${has} is set but ${side}.${missing} is not: a certificate needs its private key`);
  }
  if (cert && key) {
    const blocks = pemCertificates(cert).filter((pem) => pem.startsWith('-----BEGIN CERTIFICATE-----'));
    if (blocks.length === 0)
      throw tlsFileError(
        `${side}.cert file '${files.cert}' holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`,
      );
    const leaf = summarize(side, 'cert', files.cert!, blocks[0]!, 0);
    certificates.unshift(leaf);
    let privateKey: crypto.KeyObject;
    try {
      privateKey = crypto.createPrivateKey(key);
    } catch (e) {
      throw tlsFileError(
        `${side}.key file '${files.key}' holds no usable private key: ${opensslReason((e as Error).message)}`,
      );
    }
    if (!new crypto.X509Certificate(blocks[0]!).checkPrivateKey(privateKey)) {
      throw tlsFileError(
        `${side}.key file '${files.key}' does not belong to the certificate in ${side}.cert file '${files.cert}'`,
      );
    }
  }
  // The last word is OpenSSL's: whatever it refuses here, a handshake would fail on.
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) });
  } catch (e) {
    throw tlsFileError(
      `${side}: the files ${Object.values(files)
        .filter(Boolean)
        .map((f) => `'${f}'`)
        .join(', ')} cannot be used together: ${opensslReason((e as Error).message)}`,
    );
  }
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), certificates, context };
}

function pemCertificates(buf: Buffer): string[] {
  return buf.toString('latin1').match(PEM_CERT) ?? [];
}

function summarize(side: TlsSide, field: string, file: string, pem: string, index: number): CertificateSummary {
  let x: crypto.X509Certificate;
  try {
    x = new crypto.X509Certificate(pem);
  } catch (e) {
    const which = index > 0 ? `certificate #${index} ` : '';
    throw tlsFileError(
      `${side}.${field} file '${file}': ${which}cannot be parsed: ${opensslReason((e as Error).message)}`,
    );
  }
  const now = Date.now();
  return {
    file,
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    validTo: x.validTo,
    fingerprint256: x.fingerprint256,
    expired: Date.parse(x.validTo) < now,
    notYetValid: Date.parse(x.validFrom) > now,
  };
}

/** Log what was loaded (info) and any certificate outside its validity period (warn). */
export function logMaterial(log: Logger, side: TlsSide, m: TlsMaterial, event: 'loaded' | 'reloaded'): void {
  log.info(
    {
      tls: side,
      certificates: m.certificates.map((c) => ({
        file: c.file,
        subject: c.subject,
        validTo: c.validTo,
        sha256: c.fingerprint256,
      })),
    },
    `TLS files ${event}`,
  );
  for (const c of m.certificates) {
    if (c.expired)
      log.warn({ tls: side, file: c.file, subject: c.subject, validTo: c.validTo }, 'TLS certificate has expired');
    else if (c.notYetValid)
      log.warn({ tls: side, file: c.file, subject: c.subject }, 'TLS certificate is not yet valid');
  }
}
