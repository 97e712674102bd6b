import type { Socket } from 'node:net';
import type { ConnectionConfig, Dialer, LentReads } from '@slotrelay/core/internal';
import { tcpDialer } from '@slotrelay/core/internal';

/** Redis's `maxclients` default. */
export const DEFAULT_MAX_CLIENTS = 10000;
/** Redis's `tcp-keepalive` default, seconds. */
export const DEFAULT_TCP_KEEPALIVE_S = 300;
/** What connecting to a Redis node may take (TCP, and the TLS handshake), ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

/** Redis's own reply to a client over `maxclients` (networking.c, acceptCommonHandler). */
export const MAX_CLIENTS_REPLY = '-ERR max number of clients reached\r\n';
/** How long a refused client may keep its socket open after the error, ms. */
const REFUSED_GRACE_MS = 2000;

/** Turn TCP keepalive on (`seconds` > 0: the idle time before the first probe) or leave it off. */
export function applyKeepalive(socket: Socket, seconds: number | undefined): void {
  const s = seconds ?? DEFAULT_TCP_KEEPALIVE_S;
  if (s > 0) socket.setKeepAlive(true, s * 1000);
}

/**
 * Answer a client over `maxClients` as Redis does: the error line, then close. What it sends is
 * read and dropped until its FIN (closing with unread bytes would reset the connection and could
 * cost it the error line), at most `REFUSED_GRACE_MS`.
 */
export function refuseClient(socket: Socket, reads?: LentReads): void {
  socket.on('error', () => {});
  if (reads) reads.onRead = () => {};
  else socket.resume();
  const timer = setTimeout(() => socket.destroy(), REFUSED_GRACE_MS);
  timer.unref();
  socket.once('end', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
  socket.end(MAX_CLIENTS_REPLY);
}

/**
 * A listener's dialer that reads its limits when it dials, from `current()` (the listener's
 * connection config of now): `connectTimeoutMs` for plain TCP (a TLS dialer reads it itself) and
 * `tcpKeepalive` on every socket it opens (sessions' upstreams and discovery).
 */
export function limitedDialer(current: () => ConnectionConfig, tls?: Dialer): Dialer {
  const connect: Dialer =
    tls ?? ((target, reads) => tcpDialer(current().connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)(target, reads));
  return async (target, reads) => {
    const socket = await connect(target, reads);
    applyKeepalive(socket, current().tcpKeepalive);
    return socket;
  };
}
