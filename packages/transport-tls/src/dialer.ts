import net from 'node:net';
import tls from 'node:tls';
import {
  type Dialer,
  type Logger,
  type ServerTlsConfig,
  configAddress,
  upstreamDialError,
} from '@slotrelay/core/internal';
import { type TlsChange, type TlsMaterial, loadTlsMaterial, logMaterial } from './material.js';
import { describeTlsError } from './reasons.js';

/** Options of `createTlsDialer`. */
export interface TlsDialerOptions {
  /** Budget for TCP connect plus TLS handshake, per dial (default 3000 ms); a function is asked at each dial. */
  readonly connectTimeoutMs?: number | (() => number);
}

/**
 * The TLS side toward Redis, built once per listener from `serverTls`. `dial` is the listener's
 * `Dialer` (sessions and topology discovery both use it); `reload` swaps CA, client certificate
 * and verification settings for the dials that follow, leaving open connections alone.
 */
export interface TlsDialer {
  /** Resolves with a socket once the handshake is done and the certificate verified. */
  readonly dial: Dialer;
  /**
   * Read and check `cfg`'s files and return the change without applying it. Throws like `reload`.
   */
  prepare(cfg: ServerTlsConfig): TlsChange;
  /**
   * Re-read `cfg`'s files (also when the paths are unchanged) and use them for new dials. All
   * files are read and checked first; if one is missing or bad this throws a `SlotrelayError`
   * (`SR_ERR_CONFIG`) naming the field, the file and the reason, and the old settings stay.
   */
  reload(cfg: ServerTlsConfig): void;
}

interface DialerState {
  readonly material: TlsMaterial;
  /** Built once per config; every dial shares it. */
  readonly context: tls.SecureContext;
  readonly verify: boolean;
  readonly servername: string | undefined;
}

function loadDialerState(cfg: ServerTlsConfig): DialerState {
  // Without `ca` the context verifies against Node's default store (Mozilla's roots plus NODE_EXTRA_CA_CERTS).
  const material = loadTlsMaterial('serverTls', { ca: cfg.ca, cert: cfg.cert, key: cfg.key });
  return {
    material,
    context: material.context,
    verify: cfg.trustServerCertificate !== true,
    servername: cfg.servername,
  };
}

function announce(log: Logger, s: DialerState, before: DialerState | null): void {
  logMaterial(log, 'serverTls', s.material, before ? 'reloaded' : 'loaded');
  if (!s.verify && (before === null || before.verify)) {
    log.warn(
      { tls: 'serverTls' },
      'serverTls.trustServerCertificate is set: Redis certificates are NOT verified (for tests and debugging only)',
    );
  }
}

/**
 * Build the TLS dialer for `cfg` ("Use TLS with server"). Reads and checks the files now (throws a
 * `SlotrelayError` naming the field and file when one is bad) and warns once if
 * `trustServerCertificate` turns verification off.
 *
 * - Verification: against `cfg.ca`, or Node's default trust store when absent; the name checked is
 *   `cfg.servername`, else the host dialed (IP addresses are checked against IP SANs).
 * - SNI: `cfg.servername`, else the host dialed when it is a DNS name (never an IP, per RFC 6066).
 * - `cfg.cert`/`cfg.key`: presented as the proxy's client certificate (Redis `tls-auth-clients`).
 *
 * A failed dial rejects with a `SlotrelayError` (`SR_ERR_UPSTREAM`, see `upstreamDialError`: the client is told only the reason) such as
 * `cannot connect to Redis at 127.0.0.1:7000: TLS: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`;
 * failures after the TCP connection (the TLS stage) are also logged at warn.
 */
export function createTlsDialer(cfg: ServerTlsConfig, log: Logger, opts: TlsDialerOptions = {}): TlsDialer {
  const budget = opts.connectTimeoutMs ?? 3000;
  let state = loadDialerState(cfg);
  announce(log, state, null);

  const dial: Dialer = (target) =>
    new Promise((resolve, reject) => {
      const s = state;
      const timeoutMs = typeof budget === 'function' ? budget() : budget;
      const sniName = s.servername ?? target.host;
      const checkName = s.servername;
      const sock = tls.connect({
        host: target.host,
        port: target.port,
        secureContext: s.context,
        rejectUnauthorized: s.verify,
        ...(net.isIP(sniName) === 0 ? { servername: sniName } : {}),
        ...(checkName !== undefined
          ? {
              checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
                tls.checkServerIdentity(checkName, cert),
            }
          : {}),
      });
      sock.setNoDelay(true);
      settleHandshake(sock, timeoutMs, resolve, (why, tlsStage) => {
        const where = configAddress(target);
        if (tlsStage) log.warn({ redis: where, err: why }, 'TLS connection to Redis failed');
        else log.debug({ redis: where, err: why }, 'connection to Redis failed');
        reject(upstreamDialError(where, why));
      });
    });

  const prepare = (next: ServerTlsConfig): TlsChange => {
    const s = loadDialerState(next);
    return {
      commit() {
        const before = state;
        state = s;
        announce(log, s, before);
      },
    };
  };

  return {
    dial,
    prepare,
    reload(next) {
      prepare(next).commit();
    },
  };
}

/**
 * Resolve on `secureConnect`; otherwise fail once with the reason, prefixed `TLS: ` when the TCP
 * connection was up (so a refused port and a refused certificate read differently).
 */
function settleHandshake(
  sock: tls.TLSSocket,
  timeoutMs: number,
  resolve: (s: tls.TLSSocket) => void,
  fail: (why: string, tlsStage: boolean) => void,
): void {
  let tcpUp = false;
  const done = (why: string) => {
    cleanup();
    sock.destroy();
    fail(why, tcpUp);
  };
  const onConnect = () => {
    tcpUp = true;
  };
  const onError = (e: Error) =>
    done(tcpUp ? `TLS: ${describeTlsError(e)}` : ((e as NodeJS.ErrnoException).code ?? e.message));
  const onClose = () => done(tcpUp ? 'TLS: connection closed during the handshake' : 'connection closed');
  const timer = setTimeout(
    () => done(tcpUp ? `TLS: handshake not finished within ${timeoutMs} ms` : `no answer within ${timeoutMs} ms`),
    timeoutMs,
  );
  const onSecure = () => {
    cleanup();
    resolve(sock);
  };
  const cleanup = () => {
    clearTimeout(timer);
    sock.off('connect', onConnect);
    sock.off('error', onError);
    sock.off('close', onClose);
    sock.off('secureConnect', onSecure);
  };
  sock.once('connect', onConnect);
  sock.once('error', onError);
  sock.once('close', onClose);
  sock.once('secureConnect', onSecure);
}

/**
 * The listener's `Dialer` for `cfg` without a reload handle (what the host calls today). Same
 * checks, errors and logging as `createTlsDialer`.
 */
export function tlsDialer(cfg: ServerTlsConfig, log: Logger, connectTimeoutMs = 3000): Dialer {
  return createTlsDialer(cfg, log, { connectTimeoutMs }).dial;
}
