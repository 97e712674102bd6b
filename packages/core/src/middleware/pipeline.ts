import { Observable, Subject } from 'rxjs';
import { SlotrelayError } from '../errors.js';
import type { Batch } from '../session/frame.js';
import { CommandTable } from '../session/command-table.js';
import { CORE_COMMANDS } from '../session/connection-state.js';
import { SHARING_COMMANDS } from '../session/sharing.js';
import type { Middleware, SessionContext } from './contract.js';

/** What the pipeline sees of a session (the `Session` itself). */
export interface PipelineHost {
  /** The facade the middleware at `slot` of the pipeline gets. */
  contextFor(slot: number, middlewareName: string): SessionContext;
  /** Where the last request operator's batches go. */
  requestsOut(batch: Batch): void;
  /** Where the last reply operator's batches go. */
  repliesOut(batch: Batch): void;
  /** An operator failed: the session answers and closes. */
  pipelineFailed(err: unknown): void;
}

/** A session's two entry points into the composed middleware. */
export interface SessionFlow {
  requests(batch: Batch): void;
  replies(batch: Batch): void;
  /** Complete the streams (middleware see `finalize`). */
  close(): void;
}

/**
 * The middleware of one listener, composed per session with RxJS: requests through the middleware
 * in config order, replies in reverse (the onion). Built once per listener; `attach` runs once per
 * session and costs one Subject per direction, only if some middleware has an operator for it.
 * Batches no middleware needs to see (`Middleware.batches`) bypass the operators.
 */
export class Pipeline {
  /** Every command name some middleware (or core) watches. */
  readonly table: CommandTable;

  /** Some middleware wants every request batch (`batches: 'all'`). */
  readonly allRequests: boolean;
  /** Some middleware wants every reply batch. */
  readonly allReplies: boolean;
  private readonly anyRequests: boolean;
  private readonly anyReplies: boolean;

  constructor(readonly middleware: readonly Middleware[]) {
    this.anyRequests = middleware.some((m) => m.requests);
    this.anyReplies = middleware.some((m) => m.replies);
    this.allRequests = middleware.some((m) => m.requests && m.batches === 'all');
    this.allReplies = middleware.some((m) => m.replies && m.batches === 'all');
    const seen = new Set<string>();
    for (const m of middleware) {
      if (seen.has(m.name)) throw new SlotrelayError('SR_ERR_MIDDLEWARE', `middleware '${m.name}' is listed twice`);
      seen.add(m.name);
    }
    // SHARING_COMMANDS: a session on a shared connection must see them (they pin or change its key).
    this.table = new CommandTable([
      ...CORE_COMMANDS,
      ...SHARING_COMMANDS,
      ...middleware.flatMap((m) => m.commands ?? []),
    ]);
  }

  /** Must this request batch go through the operators? (Else it is forwarded as it is.) */
  wantsRequests(b: Batch): boolean {
    return this.anyRequests && (this.allRequests || b.interesting > 0);
  }

  /** Must this reply batch go through the operators? */
  wantsReplies(b: Batch): boolean {
    return this.anyReplies && (this.allReplies || b.interesting > 0 || b.marked > 0);
  }

  /** Compose the operators for one session (done on its first batch that needs them). */
  attach(session: PipelineHost): SessionFlow {
    const ctx = this.middleware.map((m, i) => session.contextFor(i, m.name));
    const reqOps = this.middleware.flatMap((m, i) => (m.requests ? [m.requests(ctx[i]!)] : []));
    const repOps = this.middleware.flatMap((m, i) => (m.replies ? [m.replies(ctx[i]!)] : [])).reverse();
    const subjects: Array<Subject<Batch>> = [];
    const compose = (ops: typeof reqOps, out: (b: Batch) => void): ((b: Batch) => void) => {
      if (ops.length === 0) return out;
      const input = new Subject<Batch>();
      subjects.push(input);
      ops
        .reduce<Observable<Batch>>((o, op) => op(o), input)
        .subscribe({ next: out, error: (e: unknown) => session.pipelineFailed(e) });
      return (b) => input.next(b);
    };
    return {
      requests: compose(reqOps, (b) => session.requestsOut(b)),
      replies: compose(repOps, (b) => session.repliesOut(b)),
      close: () => {
        for (const s of subjects) s.complete();
      },
    };
  }
}
