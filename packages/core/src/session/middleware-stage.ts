import type { Pipeline, PipelineHost, SessionFlow } from '../middleware/pipeline.js';
import type { Batch } from './frame.js';

/** What the stage needs of its session. */
export interface StageHost extends PipelineHost {
  readonly closed: boolean;
}

/**
 * A session's way through its listener's middleware: a batch no middleware wants goes straight out;
 * the composed operators are built on the first batch that needs them (most batches never do). An
 * operator that throws, or that does not pass its batch on, fails the session.
 */
export class MiddlewareStage {
  private flow: SessionFlow | null = null;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly host: StageHost,
  ) {}

  requests(b: Batch): void {
    if (!this.pipeline.wantsRequests(b)) {
      this.host.requestsOut(b);
      return;
    }
    try {
      (this.flow ??= this.pipeline.attach(this.host)).requests(b);
    } catch (err) {
      this.host.pipelineFailed(err);
      return;
    }
    if (!b.delivered && !this.host.closed)
      this.host.pipelineFailed(new Error('a middleware did not pass the request batch on'));
  }

  replies(b: Batch): void {
    if (!this.pipeline.wantsReplies(b)) {
      this.host.repliesOut(b);
      return;
    }
    try {
      (this.flow ??= this.pipeline.attach(this.host)).replies(b);
    } catch (err) {
      this.host.pipelineFailed(err);
      return;
    }
    if (!b.delivered && !this.host.closed)
      this.host.pipelineFailed(new Error('a middleware did not pass the reply batch on'));
  }

  /** Complete the operators' streams (middleware see `finalize`). */
  close(): void {
    this.flow?.close();
  }
}
