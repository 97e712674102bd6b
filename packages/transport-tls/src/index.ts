/**
 * @slotrelay/transport-tls — TLS toward clients (optionally mutual) and toward Redis.
 * The host picks it per connection when `clientTls.enabled` / `serverTls.enabled` is set.
 */
export { tlsServerFactory, tlsDialer } from './tls.js';
