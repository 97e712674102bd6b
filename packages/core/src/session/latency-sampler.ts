import type { InFlight } from './in-flight.js';

/**
 * Latency of one sampled session (`LATENCY_SAMPLE_EVERY`): the read time of each request chunk,
 * with the FIFO position its last request reached, reported once the replies written reach that
 * position — the seconds from a request chunk's read to the write of the reply chunk completing it.
 */
export class LatencySampler {
  /** Read times (ms) and FIFO positions of the request chunks still waiting, oldest at `head`. */
  private times: number[] = [];
  private ends: number[] = [];
  private head = 0;
  /** The position the last recorded chunk reached (a chunk that added no request is not recorded). */
  private last = 0;
  /** When the request chunk being handled was read. */
  private readAt = 0;

  constructor(
    private readonly inflight: InFlight,
    private readonly observe: (seconds: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A request chunk was read (before its requests are handled). */
  chunkRead(): void {
    this.readAt = this.now();
  }

  /** That chunk's requests have joined the FIFO (those answered locally may have left it already). */
  requestsRead(): void {
    const end = this.inflight.shifted + this.inflight.size;
    if (end <= this.last) return;
    this.last = end;
    this.times.push(this.readAt);
    this.ends.push(end);
    this.repliesWritten();
  }

  /** A reply chunk was written. */
  repliesWritten(): void {
    const done = this.inflight.shifted;
    if (this.head === this.ends.length || this.ends[this.head]! > done) return;
    const now = this.now();
    while (this.head < this.ends.length && this.ends[this.head]! <= done) {
      this.observe((now - this.times[this.head]!) / 1000);
      this.head++;
    }
    if (this.head === this.ends.length) {
      this.times = [];
      this.ends = [];
      this.head = 0;
    }
  }
}
