/**
 * Counters the sessions of one listener add to, read by the host's metrics at scrape time. Plain
 * integers in one object per listener: the lanes add a chunk's frame count once per chunk — no call
 * into a metrics library and no timer per request.
 */
export interface SessionStats {
  /**
   * Client requests, forwarded to Redis or answered locally (a request counts once, a streamed one
   * when it starts; an empty one — a blank line, `*0` — does not count, nor does anything after QUIT).
   */
  requests: number;
  /** Reply frames written to clients (pushes, pub/sub messages and local replies included). */
  replies: number;
  bytesFromClients: number;
  bytesToClients: number;
  bytesFromRedis: number;
  bytesToRedis: number;
  /** Client protocol errors answered (each also closes its session). */
  protocolErrors: number;
  /** Sessions that started on shared upstream connections (`SessionOptions.sharedPool`). */
  sharedSessions: number;
  /** Of those, the ones that moved to a connection of their own (a pinning command; see ARCHITECTURE.md). */
  pinnedSessions: number;
  /** Sessions closed, by reason: one of `CLOSE_REASONS`, so the label set stays bounded. */
  readonly closed: Map<CloseReason, number>;
  /**
   * Set by the host to sample latency: 1 session in `LATENCY_SAMPLE_EVERY` reports, per reply chunk
   * that completes a request chunk, the seconds from that request chunk's read to the reply chunk's write.
   */
  observeLatency?: (seconds: number) => void;
}

/**
 * Why a session ended, the first cause counting (a QUIT whose connection Redis then closes is 'quit'):
 * - `client`: the client closed or half-closed its connection (or left with no other cause given);
 * - `quit`: the client sent QUIT;
 * - `protocol`: a client protocol error (malformed RESP, unbalanced quotes, a watched request over
 *   `maxWholeFrameBytes`), answered `-ERR Protocol error: …`;
 * - `upstream`: Redis unreachable, its connection lost or a malformed reply from it, or no Redis to
 *   front (a config state: each request got the `-ERR`);
 * - `limit`: the host closed it for a limit of its own (`Session.drain(ms, 'limit')`);
 * - `idle`: idle for `SessionOptions.idleTimeoutMs`;
 * - `shutdown`: `Session.drain` — the listener stopping, or a new mapping moving the session's node;
 * - `error`: a middleware closed it (`SessionContext.close`) or the pipeline failed.
 */
export const CLOSE_REASONS = ['client', 'quit', 'protocol', 'upstream', 'limit', 'idle', 'shutdown', 'error'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** One session in this many reports latency to `SessionStats.observeLatency`. */
export const LATENCY_SAMPLE_EVERY = 64;

/** Fresh counters, all zero. */
export function newSessionStats(): SessionStats {
  return {
    requests: 0,
    replies: 0,
    bytesFromClients: 0,
    bytesToClients: 0,
    bytesFromRedis: 0,
    bytesToRedis: 0,
    protocolErrors: 0,
    sharedSessions: 0,
    pinnedSessions: 0,
    closed: new Map(),
  };
}
