/**
 * Turning Node/OpenSSL TLS errors into one readable reason: `<what went wrong> (<CODE>)`.
 * OpenSSL messages carry a library prefix and a source location
 * (`8097…:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a
 * certificate:../deps/openssl/…`); operators need only the reason and the code to search for.
 */

/**
 * X.509 verification results as Node reports them in `authorizationError` (a code only). The texts
 * are OpenSSL's `X509_verify_cert_error_string`, which Node uses as the message of the same error
 * on the client side, so a log line reads the same on both sides of the proxy.
 */
const VERIFY_TEXT: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_REVOKED: 'certificate revoked',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  INVALID_CA: 'invalid CA certificate',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
};

/** Hints for errors whose usual cause is not obvious from OpenSSL's words. */
const HINTS: Readonly<Record<string, string>> = {
  ERR_SSL_WRONG_VERSION_NUMBER: 'the other side is probably not speaking TLS',
  ERR_SSL_HTTP_REQUEST: 'the peer sent an HTTP request',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'a client certificate is required',
};

/** The text for an X.509 verification code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE` …), the code itself when unknown. */
export function verifyText(code: string): string {
  return VERIFY_TEXT[code] ?? code;
}

/** The human part of an OpenSSL message, or the message unchanged when it is not one. */
export function opensslReason(message: string): string {
  const m = /:(?:SSL|PEM|DECODER|x509 certificate|X509 V3|asn1 encoding|RSA|EC) routines:[^:]*:([^:]+)/.exec(message);
  return (m ? m[1]! : message).trim();
}

/** `reason (CODE)` for any error raised by `node:tls` (code omitted when there is none). */
export function describeTlsError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = opensslReason(err.message);
  const hint = code ? HINTS[code] : undefined;
  const text = code && reason !== code ? `${reason} (${code})` : reason;
  return hint ? `${text}; ${hint}` : text;
}

/** `ENOENT: no such file or directory` from an fs error, without the syscall and path Node appends. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.message !== 'string') return String(err);
  return e.message.replace(/, \w+ '[^']*'$/, '');
}
