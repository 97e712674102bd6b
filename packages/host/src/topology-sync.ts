import { type AddressMap, type Logger, topologySignature } from '@slotrelay/core/internal';
import type { Listener } from './listener.js';

/** A listener rescans because another one read a new topology at most this often. */
const SYNC_MIN_MS = 100;

/**
 * One listener read a new topology. The other listeners of this process that front the same
 * cluster and still hold a different view rescan now instead of at their next periodic check:
 * proxies with different maps send clients back and forth (MOVED naming a proxy that, by its own
 * older map, fronts another node) until they agree. Rate-limited per listener (trailing, 100 ms),
 * so views that differ for a while (gossip still spreading) cannot make scans chase each other.
 */
export class TopologySync {
  /** Rescans scheduled, and when each listener last had one. */
  private readonly pending = new Map<Listener, NodeJS.Timeout>();
  private readonly lastSync = new WeakMap<Listener, number>();

  constructor(
    private readonly listeners: ReadonlyMap<string, Listener>,
    private readonly log: Logger,
  ) {}

  changed(from: Listener, map: AddressMap): void {
    if (!map.topology) return;
    const sig = topologySignature(map.topology);
    const ids = new Set(map.nodes.map((n) => n.id));
    for (const l of this.listeners.values()) {
      if (l === from || this.pending.has(l)) continue;
      const cur = l.topology.current;
      // Never scanned (its first client scans), or another cluster, or already in step.
      if (!cur?.topology || !cur.nodes.some((n) => ids.has(n.id)) || topologySignature(cur.topology) === sig) continue;
      const wait = Math.max(0, (this.lastSync.get(l) ?? 0) + SYNC_MIN_MS - Date.now());
      const timer = setTimeout(() => {
        this.pending.delete(l);
        this.lastSync.set(l, Date.now());
        if (this.listeners.get(l.name) !== l) return;
        l.topology.rescan('another listener of this process read a new topology').catch((e: unknown) => {
          this.log.warn({ connection: l.name, err: (e as Error).message }, 'topology rescan failed');
        });
      }, wait);
      timer.unref();
      this.pending.set(l, timer);
    }
  }

  stop(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }
}
