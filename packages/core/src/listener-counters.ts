/**
 * Counters slotrelay's own middleware add to, one object per listener, read by the host's metrics
 * at scrape time (like `SessionStats`: plain integers, no metrics library call on the data path).
 * Reached by DI (`ListenerCounters`, bound in each listener's container); a middleware injects it as
 * optional, so it runs unchanged where no host binds it (the testkit, third-party hosts).
 */
export interface ListenerCounters {
  /** `-MOVED` / `-ASK` replies rewritten to name a proxy (nested ones in an EXEC array included). */
  readonly redirectsRewritten: { moved: number; ask: number };
  /** Replies that named Redis nodes (CLUSTER NODES/SLOTS/SHARDS/REPLICAS, INFO, ROLE …) and were rewritten or refused. */
  clusterRepliesRewritten: number;
  /** Admin commands answered, by sub-command (`SCANCLUSTER`, `CONFIG PATCH` …; a bounded set), refused ones included. */
  readonly adminCommands: Map<string, number>;
}

/** DI token for the listener's `ListenerCounters`. */
export const ListenerCounters = Symbol.for('@slotrelay/core:ListenerCounters');

export function newListenerCounters(): ListenerCounters {
  return { redirectsRewritten: { moved: 0, ask: 0 }, clusterRepliesRewritten: 0, adminCommands: new Map() };
}

/** Add one to `key` of a bounded counter map. */
export function countIn<K>(m: Map<K, number>, key: K, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}
