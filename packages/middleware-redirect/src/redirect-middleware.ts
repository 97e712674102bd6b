import { inject, injectable, optional } from 'inversify';
import type { MonoTypeOperatorFunction } from 'rxjs';
import {
  type Batch,
  type Frame,
  ListenerCounters,
  Logger,
  type Middleware,
  NESTED_ERROR,
  RespType,
  type SessionContext,
  TopologyServiceToken,
  type TopologyService,
  encodeError,
  rewriteFrames,
} from '@slotrelay/core/internal';
import { type RedirectTarget, parseRedirect, rewriteRedirectFrame } from './redirect.js';

/** At most one rescan per second when MOVED shows the map is stale (other proxies may lag behind). */
const STALE_RESCAN_MS = 1000;

/**
 * Rewrites `-MOVED` / `-ASK` replies so they name the proxy in front of the target node. A redirect
 * to a node the map does not know triggers a (coalesced) rescan and is rewritten afterwards; if the
 * node is still unknown the client gets `-CLUSTERDOWN` — a Redis address never reaches a client.
 */
@injectable()
export class RedirectMiddleware implements Middleware {
  readonly name = '@slotrelay/middleware-redirect';

  constructor(
    @inject(TopologyServiceToken) private readonly topology: TopologyService,
    @inject(Logger) private readonly log: Logger,
    @inject(ListenerCounters) @optional() private readonly counters?: ListenerCounters,
  ) {}

  /** Counts a rewritten redirect (plain integers the host's metrics read). */
  private readonly count = (kind: 'MOVED' | 'ASK'): void => {
    const r = this.counters?.redirectsRewritten;
    if (r === undefined) return;
    if (kind === 'MOVED') r.moved++;
    else r.ask++;
  };

  replies(_s: SessionContext): MonoTypeOperatorFunction<Batch> {
    return rewriteFrames({
      batch: (b) => b.interesting > 0,
      wants: (f) => f.type === RespType.Error || (f.flags & NESTED_ERROR) !== 0,
      rewrite: (f) => this.rewrite(f),
    });
  }

  private lastStaleRescan = 0;

  private rewrite(f: Frame): Buffer | Promise<Buffer> | undefined {
    const r = this.rewriteWithCurrentMap(f.buf, f.start, f.end);
    if (r === null) return undefined;
    if (r.bytes) {
      if (f.type === RespType.Error) this.noticeStaleSlot(f);
      return r.bytes;
    }
    // Copy: the frame's buffer belongs to the batch, the rescan outlives it.
    const bytes = Buffer.from(f.bytes());
    const first = r.unknown;
    return this.topology.rescan(`redirect to unknown node ${first.host}:${first.port}`).then(
      () => {
        const again = this.rewriteWithCurrentMap(bytes, 0, bytes.length);
        if (again?.bytes) return again.bytes;
        return this.clusterDown(again?.unknown ?? first, 'not in the cluster topology');
      },
      (err: unknown) => this.clusterDown(first, err instanceof Error ? err.message : String(err)),
    );
  }

  /**
   * A MOVED to a node our map does not list as the slot's owner means the slot moved since the last
   * scan: rescan now (rate-limited) rather than wait for the periodic check, so every proxy of the
   * fleet agrees again quickly and clients do not bounce between proxies.
   */
  private noticeStaleSlot(f: Frame): void {
    const map = this.topology.current;
    const t = parseRedirect(f.buf.toString('latin1', f.start + 1, f.end - 2));
    if (!map || !t || t.kind !== 'MOVED') return;
    const target = map.nodeAt(t.host, t.port, map.upstream.host);
    if (!target || map.ownerOf(t.slot)?.id === target.id) return;
    const now = Date.now();
    if (now - this.lastStaleRescan < STALE_RESCAN_MS) return;
    this.lastStaleRescan = now;
    this.topology.rescan(`MOVED ${t.slot}: the slot map is stale`).catch(() => {});
  }

  private rewriteWithCurrentMap(buf: Buffer, start: number, end: number) {
    const map = this.topology.current;
    const asked = map?.upstream.host ?? '';
    return rewriteRedirectFrame(
      buf,
      start,
      end,
      (host, port) => map?.proxyForEndpoint(host, port, asked)?.text,
      this.count,
    );
  }

  private clusterDown(t: RedirectTarget, why: string): Buffer {
    this.log.error(
      { redirect: `${t.kind} ${t.slot} ${t.host}:${t.port}`, why },
      'redirect to a Redis node no proxy fronts',
    );
    return encodeError(
      `CLUSTERDOWN Hash slot ${t.slot} is served by a Redis node no slotrelay proxy is mapped to (${t.kind} rejected; see the proxy log)`,
    );
  }
}
