import type { Socket } from 'node:net';
import { type HostPort, type LentReads, type Logger, UpstreamPool, wireAddress } from '@slotrelay/core/internal';

/** Shared connections per pool key by default (`upstreamPool.size`). */
export const DEFAULT_POOL_SIZE = 2;

/**
 * A listener's pools of shared upstream connections (issue 16), one per Redis node it fronts: the
 * current one, and for a while one it is leaving (its sessions drain through it).
 */
export class SharedPools {
  private readonly pools = new Map<string, UpstreamPool>();

  constructor(
    /** Dial the node (counted, health kept: the listener's `dialTarget`). */
    private readonly dial: (target: HostPort, reads: LentReads) => Promise<Socket>,
    private readonly log: Logger,
  ) {}

  /** Connections open (or opening) now, over every pool. */
  get connections(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.connections;
    return n;
  }

  /** The pool of `target` (made on first use, with `size` connections per key). */
  poolOf(target: HostPort, size: number, maxBulkBytes: number): UpstreamPool {
    const node = wireAddress(target);
    let pool = this.pools.get(node);
    if (pool === undefined) {
      const onEnd = (why: string) => {
        if (why !== 'closed') this.log.warn({ redis: node, why }, 'shared connection to Redis closed');
      };
      pool = new UpstreamPool((reads) => this.dial(target, reads), size, maxBulkBytes, onEnd);
      this.pools.set(node, pool);
    }
    return pool;
  }

  /** A new mapping: pools of other nodes close once the sessions on them had `graceMs` to drain. */
  keepOnly(current: HostPort, graceMs: number): void {
    const keep = current.port ? wireAddress(current) : '';
    for (const [node, pool] of this.pools)
      if (node !== keep) {
        this.pools.delete(node);
        setTimeout(() => pool.close(), graceMs + 1000).unref();
      }
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
