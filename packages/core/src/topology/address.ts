import { SlotrelayError } from '../errors.js';

/** A host and port. `host` is bare (IPv6 without brackets), hostnames lower-cased by `parseHostPort`. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port` as written in config (`127.100.0.1:7000`, `redis-1.svc:7000`, `[fe80::1]:6391`)
 * or on the wire (`::1:7000` — Redis prints IPv6 bare, so the port follows the last colon).
 * Throws a `SlotrelayError` naming `what` when the text is not an address.
 */
export function parseHostPort(text: string, what = 'address'): HostPort {
  const t = text.trim();
  let host: string;
  let portText: string;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0 || t[close + 1] !== ':') throw bad(text, what);
    host = t.slice(1, close);
    portText = t.slice(close + 2);
  } else {
    const i = t.lastIndexOf(':');
    if (i < 0) throw bad(text, what);
    host = t.slice(0, i);
    portText = t.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw bad(text, what);
  if (host === '') throw bad(text, what);
  return { host: normalizeHost(host), port };
}

function bad(text: string, what: string): SlotrelayError {
  return new SlotrelayError(
    'SR_ERR_CONFIG',
    `${what} should be host:port (IPv6 as [addr]:port), instead got '${text}'`,
  );
}

/** Hostnames compare case-insensitively; IP literals are kept as written. */
export function normalizeHost(host: string): string {
  return host.toLowerCase();
}

/** `host:port` the way Redis writes it on the wire: IPv6 bare, no brackets. */
export function wireAddress(a: HostPort): string {
  return `${a.host}:${a.port}`;
}

/** `host:port` the way config and humans write it: IPv6 in brackets. */
export function configAddress(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
