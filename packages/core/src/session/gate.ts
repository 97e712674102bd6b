import type { Socket } from 'node:net';

// Reasons to stop reading a socket; it resumes when none is left.
/** The socket the reads go to has a full buffer (resumes on its 'drain'). */
export const P_DRAIN = 1;
/** Requests queue while the upstream is being dialed, past `maxQueuedBytes`. */
export const P_QUEUE = 2;
/** More than `maxInFlight` requests wait for replies. */
export const P_INFLIGHT = 4;
/** The session is closing: what the client sends now is not wanted. */
export const P_CLOSING = 8;

/** Pauses one socket's reads while any reason holds, resumes it when the last is released. */
export class Gate {
  private reasons = 0;
  constructor(private readonly stream: () => Socket | null) {}
  hold(reason: number): void {
    if (this.reasons === 0) this.stream()?.pause();
    this.reasons |= reason;
  }
  release(reason: number): void {
    if ((this.reasons & reason) === 0) return;
    this.reasons &= ~reason;
    if (this.reasons === 0) this.stream()?.resume();
  }
  /** Read again whatever the reasons (a closing session must see the peer's FIN). */
  open(): void {
    if (this.reasons === 0) return;
    this.reasons = 0;
    this.stream()?.resume();
  }
}
