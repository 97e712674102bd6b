/** How often the sweeper looks at the sessions it watches: a session idle for its timeout closes within two sweeps more. */
export const IDLE_SWEEP_MS = 250;

/** A session with an idle timeout, as the sweeper sees it. */
export interface IdleWatched {
  /** Close the session if it has been idle for its timeout at `now` (ms, `Date.now()`). */
  sweep(now: number): void;
}

/**
 * Redis's `timeout` for sessions: one timer for every session of the process that has an idle
 * timeout (none runs while no session has one), so a read costs the session a flag, not a timer.
 */
export class IdleSweeper {
  private readonly watched = new Set<IdleWatched>();
  private timer: NodeJS.Timeout | null = null;

  watch(s: IdleWatched): void {
    this.watched.add(s);
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweepAll(), IDLE_SWEEP_MS);
    this.timer.unref();
  }

  unwatch(s: IdleWatched): void {
    if (!this.watched.delete(s) || this.watched.size > 0 || this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private sweepAll(): void {
    const now = Date.now();
    for (const s of this.watched) s.sweep(now);
  }
}

/** The sweeper of every session of this process. */
export const idleSweeper = new IdleSweeper();
