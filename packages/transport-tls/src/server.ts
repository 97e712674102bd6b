import type { Socket } from 'node:net';
import tls from 'node:tls';
import { type ClientTlsConfig, type Logger, type ServerFactory, configAddress } from '@slotrelay/core/internal';
import { type TlsChange, type TlsMaterial, loadTlsMaterial, logMaterial, tlsFileError } from './material.js';
import { describeTlsError, verifyText } from './reasons.js';

/**
 * The TLS side of a client listener, built once per listener from `clientTls`. `factory` makes the
 * listener's server; `reload` swaps certificates, key, CA and `requireClientCert` on every server
 * it made without closing them (`server.setSecureContext`): new handshakes use the new files,
 * established connections keep theirs.
 */
export interface TlsServer {
  /** The `ServerFactory` the host's listener calls; each server it makes follows `reload`. */
  readonly factory: ServerFactory;
  /**
   * Read and check `cfg`'s files, and return the change without applying it, so a caller changing
   * several things at once can check them all before committing any. Throws like `reload`.
   */
  prepare(cfg: ClientTlsConfig): TlsChange;
  /**
   * Re-read `cfg`'s files (also when the paths are unchanged: the files may have been replaced)
   * and use them for new connections. All files are read and checked first; if one is missing or
   * bad this throws a `SlotrelayError` (`SR_ERR_CONFIG`) naming the field, the file and the reason,
   * and the certificates in use stay as they were.
   */
  reload(cfg: ClientTlsConfig): void;
}

interface ServerState {
  readonly material: TlsMaterial;
  readonly requireClientCert: boolean;
}

/** `requestCert` / `rejectUnauthorized` are read per connection from these (Node's `tls.Server`). */
interface ClientAuthFlags {
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

function loadServerState(cfg: ClientTlsConfig): ServerState {
  if (!cfg.cert || !cfg.key)
    throw tlsFileError('clientTls needs both cert and key: the listener has to present a certificate');
  const requireClientCert = cfg.requireClientCert === true;
  if (requireClientCert && !cfg.ca) {
    // Without a CA of our own Node would accept any certificate from the public roots.
    throw tlsFileError('clientTls.requireClientCert needs clientTls.ca: the CA that client certificates must chain to');
  }
  const material = loadTlsMaterial('clientTls', { ca: cfg.ca, cert: cfg.cert, key: cfg.key });
  return { material, requireClientCert };
}

function contextOptions(s: ServerState): tls.SecureContextOptions {
  const { ca, cert, key } = s.material;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/**
 * Build the TLS listener side for `cfg` ("Use TLS with clients"; with `requireClientCert`,
 * "Require TLS client authentication": a client without a certificate that chains to `cfg.ca`
 * fails the handshake and never reaches a session). Reads and checks the files now; throws a
 * `SlotrelayError` (`SR_ERR_CONFIG`) naming the field and file when one is bad.
 *
 * A failed client handshake is logged at warn with the client's address and the reason; the
 * listener keeps accepting.
 */
export function createTlsServer(cfg: ClientTlsConfig, log: Logger): TlsServer {
  let state = loadServerState(cfg);
  logMaterial(log, 'clientTls', state.material, 'loaded');
  const servers = new Set<tls.Server>();

  const factory: ServerFactory = (onConnection) => {
    const server = tls.createServer(
      {
        ...contextOptions(state),
        requestCert: state.requireClientCert,
        rejectUnauthorized: state.requireClientCert,
        // Half-open only once the handshake is done (below): a client that hangs up mid-handshake
        // must close its socket, not leave it open until the handshake timeout.
        allowHalfOpen: false,
        noDelay: true,
      },
      (socket) => {
        // Replies must still reach a client that sent FIN (as the plain listener allows).
        socket.allowHalfOpen = true;
        onConnection(socket);
      },
    );
    // A socket that fails its handshake is often destroyed before anyone asks for its address:
    // note it while the TCP connection is fresh.
    const peers = new WeakMap<Socket, string>();
    server.on('connection', (raw: Socket) => {
      if (raw.remoteAddress) peers.set(raw, configAddress({ host: raw.remoteAddress, port: raw.remotePort ?? 0 }));
    });
    server.on('tlsClientError', (err, socket) => {
      const raw = (socket as unknown as { _parent?: Socket })._parent;
      const client =
        (raw && peers.get(raw)) ??
        (socket.remoteAddress
          ? configAddress({ host: socket.remoteAddress, port: socket.remotePort ?? 0 })
          : 'unknown');
      // Node completes the handshake, then checks the client certificate and destroys the socket:
      // the error is then a bare hang-up and the real reason is `authorizationError`.
      const code = socket.authorizationError ? String(socket.authorizationError) : undefined;
      const reason = code ? `client certificate rejected: ${verifyText(code)} (${code})` : describeTlsError(err);
      log.warn({ client, err: reason }, 'client TLS handshake failed');
    });
    servers.add(server);
    server.once('close', () => servers.delete(server));
    return server;
  };

  const prepare = (next: ClientTlsConfig): TlsChange => {
    const s = loadServerState(next);
    return {
      commit() {
        state = s;
        const options = contextOptions(s);
        for (const server of servers) {
          server.setSecureContext(options);
          const flags = server as unknown as ClientAuthFlags;
          flags.requestCert = s.requireClientCert;
          flags.rejectUnauthorized = s.requireClientCert;
        }
        logMaterial(log, 'clientTls', s.material, 'reloaded');
      },
    };
  };

  return {
    factory,
    prepare,
    reload(next) {
      prepare(next).commit();
    },
  };
}

/**
 * The listener's `ServerFactory` for `cfg` without a reload handle (what the host calls today).
 * Same checks, errors and logging as `createTlsServer`.
 */
export function tlsServerFactory(cfg: ClientTlsConfig, log: Logger): ServerFactory {
  return createTlsServer(cfg, log).factory;
}
