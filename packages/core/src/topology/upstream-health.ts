import type { Logger } from '../logger.js';
import { runCommands } from '../transport/command.js';
import type { Dialer } from '../transport/tcp.js';
import { type HostPort, wireAddress } from './address.js';

/** While a node stays unreachable, a reminder is logged at most this often (the transitions always are). */
export const STILL_UNREACHABLE_LOG_MS = 60_000;

/** Whether this proxy's Redis node answers, as last seen (`unknown`: never dialed yet). */
export type Reachability = 'unknown' | 'reachable' | 'unreachable';

/**
 * A short, bounded reason for a failed dial or probe (a metrics label and a log field): the socket
 * error code (`ECONNREFUSED` …), a TLS code in parentheses, `timeout`, `closed`, else `other`.
 */
export function failureReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const why = text.slice(text.lastIndexOf(': ') + 2);
  if (/^E[A-Z0-9_]+$/.test(why)) return why;
  const code = /\(([A-Z][A-Z0-9_]+)\)\s*$/.exec(text);
  if (code) return code[1]!;
  if (/^no (answer|reply) within/.test(why) || /timed? ?out/i.test(text)) return 'timeout';
  if (why.startsWith('connection closed')) return 'closed';
  return 'other';
}

/**
 * The reachability of the one Redis node a proxy fronts, told by whoever dials it (sessions' dials,
 * the periodic probe, a lost connection's probe). Logs each transition once, with the reason
 * (reachable → unreachable at warn, back at info); failures in between are counted and only
 * reminded of every `STILL_UNREACHABLE_LOG_MS`, never once per client (issue 15: 34 lines in 40 s
 * from two reconnecting clients).
 */
export class UpstreamHealth {
  state: Reachability = 'unknown';
  /** The node the state is about (the map's upstream); null before the first dial. */
  target: HostPort | null = null;
  /** Why it is unreachable (the dial's or probe's error). */
  reason = '';
  /** When the state last changed (ms since epoch). */
  since = Date.now();
  /** Failed dials and probes since it became unreachable. */
  private failures = 0;
  private remindedAt = 0;
  private probing: Promise<boolean> | null = null;

  constructor(private readonly log: Logger) {}

  /** A dial or probe of `target` succeeded. */
  reachable(target: HostPort): void {
    this.retarget(target);
    if (this.state === 'reachable') return;
    if (this.state === 'unreachable')
      this.log.info(
        { redis: wireAddress(target), downMs: Date.now() - this.since, failures: this.failures },
        'Redis node reachable again',
      );
    this.state = 'reachable';
    this.since = Date.now();
    this.reason = '';
    this.failures = 0;
  }

  /** A dial or probe of `target` failed with `err`. */
  unreachable(target: HostPort, err: unknown): void {
    this.retarget(target);
    const reason = err instanceof Error ? err.message : String(err);
    this.failures++;
    const now = Date.now();
    if (this.state !== 'unreachable') {
      this.state = 'unreachable';
      this.since = now;
      this.reason = reason;
      this.remindedAt = now;
      this.log.warn(
        { redis: wireAddress(target), reason, code: failureReason(err) },
        'Redis node unreachable: sessions close without a reply at their first request for it, until it answers again',
      );
      return;
    }
    this.reason = reason;
    if (now - this.remindedAt >= STILL_UNREACHABLE_LOG_MS) {
      this.remindedAt = now;
      this.log.warn(
        { redis: wireAddress(target), reason, downMs: now - this.since, failures: this.failures },
        'Redis node still unreachable',
      );
    }
  }

  /**
   * Dial `target` and send PING (any reply, even `-NOAUTH`, proves the node alive), then record the
   * result. Concurrent calls share one probe. Resolves true when reachable.
   */
  probe(target: HostPort, dial: Dialer, timeoutMs: number): Promise<boolean> {
    this.probing ??= (async () => {
      try {
        const sock = await dial(target);
        try {
          await runCommands(sock, [['PING']], timeoutMs);
        } finally {
          sock.destroy();
        }
        this.reachable(target);
        return true;
      } catch (e) {
        this.unreachable(target, e);
        return false;
      }
    })().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  /** The mapping moved this proxy to another node: what was known is about the old one. */
  private retarget(target: HostPort): void {
    const t = this.target;
    if (t !== null && t.host === target.host && t.port === target.port) return;
    this.target = target;
    if (t !== null) {
      this.state = 'unknown';
      this.failures = 0;
    }
  }
}
