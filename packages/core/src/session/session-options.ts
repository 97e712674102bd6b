import { DEFAULT_LIMITS, type RespLimits } from '../resp/constants.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { SessionStats } from './stats.js';

/** Tuning of one session. All sizes in bytes. */
export interface SessionOptions {
  limits?: Partial<RespLimits>;
  /** A frame split across chunks is held up to this size, then streamed unless someone must see it whole. */
  holdLimit?: number;
  /** Bytes queued toward one side before the other side stops being read. */
  maxQueuedBytes?: number;
  /** Requests awaiting replies before the client stops being read. */
  maxInFlight?: number;
  /**
   * The largest request the proxy holds whole (a watched command, which middleware must see whole);
   * a larger one is a protocol error that closes the connection. Default 1 MiB. Streamed requests
   * (every unwatched command) have no such cap.
   */
  maxWholeFrameBytes?: number;
  /** The listener's counters this session adds to (none kept when absent). */
  stats?: SessionStats;
  /**
   * Redis's `timeout`, in ms (0 or absent: never): a client that sent nothing for this long and has
   * nothing in flight is closed without a reply — unless subscribed or in MONITOR, as in Redis.
   */
  idleTimeoutMs?: number;
  /**
   * Share upstream connections (ARCHITECTURE.md "Multiplexing"): the pool of the session's Redis
   * node, resolved when the session starts. Absent: the session dials its own (`UpstreamConnector`),
   * which it also does when it pins.
   */
  sharedPool?: () => Promise<UpstreamPool>;
}

/** Default `SessionOptions.maxWholeFrameBytes`. */
export const DEFAULT_MAX_WHOLE_FRAME_BYTES = 1024 * 1024;

/** `SessionOptions` with every default applied. */
export interface SessionTuning {
  readonly limits: RespLimits;
  readonly holdLimit: number;
  readonly maxQueuedBytes: number;
  readonly maxInFlight: number;
  readonly maxWholeFrameBytes: number;
}

export function sessionTuning(o: SessionOptions): SessionTuning {
  const holdLimit = o.holdLimit ?? 64 * 1024;
  return {
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    holdLimit,
    maxQueuedBytes: o.maxQueuedBytes ?? 1024 * 1024,
    maxInFlight: o.maxInFlight ?? 65536,
    // A client can make the proxy hold a watched request whole: capped, or four connections sending
    // 256 MB INFO arguments took the proxy from 81 MB to 1.1 GB (issue 13). Redis's replies are not.
    maxWholeFrameBytes: Math.max(holdLimit, o.maxWholeFrameBytes ?? DEFAULT_MAX_WHOLE_FRAME_BYTES),
  };
}
