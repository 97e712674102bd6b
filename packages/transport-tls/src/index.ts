/**
 * @slotrelay/transport-tls — TLS toward clients (optionally mutual) and toward Redis.
 * The host picks it per connection when `clientTls.enabled` / `serverTls.enabled` is set; the
 * object forms (`createTlsServer`, `createTlsDialer`) also let it reload certificates in place.
 */
export { createTlsServer, tlsServerFactory, type TlsServer } from './server.js';
export { createTlsDialer, tlsDialer, type TlsDialer, type TlsDialerOptions } from './dialer.js';
export {
  MAX_TLS_FILE_BYTES,
  loadTlsMaterial,
  type CertificateSummary,
  type TlsChange,
  type TlsFiles,
  type TlsMaterial,
  type TlsSide,
} from './material.js';
export { describeTlsError } from './reasons.js';
