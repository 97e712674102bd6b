import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { type ClientTlsConfig, type Dialer, type Logger, type ServerFactory, type ServerTlsConfig, settleOnConnect } from '@slotrelay/core';

const read = (p: string | undefined) => (p ? fs.readFileSync(p) : undefined);

/** A TLS server for clients; with `requireClientCert`, clients without a CA-signed certificate fail the handshake. */
export function tlsServerFactory(cfg: ClientTlsConfig, log: Logger): ServerFactory {
  const options: tls.TlsOptions = {
    cert: read(cfg.cert),
    key: read(cfg.key),
    ca: read(cfg.ca),
    requestCert: cfg.requireClientCert === true,
    rejectUnauthorized: cfg.requireClientCert === true,
    allowHalfOpen: true,
  };
  return (onConnection) => {
    const server = tls.createServer(options, (socket) => onConnection(socket));
    server.on('tlsClientError', (err, socket) => log.warn({ client: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'client TLS handshake failed'));
    return server;
  };
}

/** A TLS dialer toward Redis; verification failures reject with the reason. */
export function tlsDialer(cfg: ServerTlsConfig, log: Logger, connectTimeoutMs = 3000): Dialer {
  if (cfg.trustServerCertificate) log.warn({}, 'serverTls.trustServerCertificate is set: Redis certificates are NOT verified');
  const base: tls.ConnectionOptions = {
    ca: read(cfg.ca),
    cert: read(cfg.cert),
    key: read(cfg.key),
    rejectUnauthorized: cfg.trustServerCertificate !== true,
  };
  return (target) =>
    new Promise((resolve, reject) => {
      const servername = cfg.servername ?? (net.isIP(target.host) ? undefined : target.host);
      const sock = tls.connect({ ...base, host: target.host, port: target.port, ...(servername ? { servername } : {}) });
      settleOnConnect(sock, 'secureConnect', target, connectTimeoutMs, resolve, (e) => {
        log.warn({ target: `${target.host}:${target.port}`, err: e.message }, 'TLS connection to Redis failed');
        reject(e);
      });
    });
}
