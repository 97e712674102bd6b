import type { Logger } from '@slotrelay/core';

/** What every log line about one session carries, filled in as it becomes known. */
export interface SessionLogFields {
  /** `ip:port` of the client, as the proxy sees it. */
  client: string;
  session?: number;
  /**
   * The local port of the session's own connection to Redis: Redis's CLIENT LIST shows it as the
   * port of `addr=` (the proxy's address), which is how a Redis client entry is matched to a client.
   */
  upstreamPort?: number;
}

/** A `Logger` that adds a session's `fields` to every line, with the fields of the moment. */
export type SessionLogger = Logger & { readonly fields: SessionLogFields };

/**
 * The logger a listener gives one session: every line the session, its middleware (children) and
 * the listener write about it names the client address, the session ID and the upstream's local port
 * (issue 15: Redis sees only the proxy's address). One small object per session; nothing per request.
 */
export function sessionLogger(base: Logger, client: string, fields: SessionLogFields = { client }): SessionLogger {
  const put =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (obj: object, msg?: string): void =>
      base[level]({ ...fields, ...obj }, msg);
  return {
    fields,
    debug: put('debug'),
    info: put('info'),
    warn: put('warn'),
    error: put('error'),
    child: (bindings) => sessionLogger(base.child(bindings), client, fields),
  };
}
