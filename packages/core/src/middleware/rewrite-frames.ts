import { map, type MonoTypeOperatorFunction } from 'rxjs';
import { COMPLETE, type Batch, type Frame } from '../session/frame.js';

/** Options of `rewriteFrames`. */
export interface RewriteFramesOptions {
  /**
   * Cheap batch-level filter, checked first: e.g. `(b) => b.interesting > 0` (requests with a watched
   * command; replies that are or contain errors) or `(b) => b.marked > 0`.
   */
  batch: (b: Batch) => boolean;
  /** Cheap per-frame filter (a type byte, a mark). Only complete, non-local frames are offered. */
  wants: (f: Frame) => boolean;
  /** New bytes for the frame (or a promise of them), or undefined to leave it as it is. */
  rewrite: (f: Frame) => Buffer | Promise<Buffer> | undefined;
}

/**
 * The usual shape of a rewriting middleware: one synchronous pass over the batch that replaces the
 * frames it wants. Keeps `rewrite` a plain function that can be unit-tested without a pipeline.
 */
export function rewriteFrames(o: RewriteFramesOptions): MonoTypeOperatorFunction<Batch> {
  return map((b) => {
    if (!o.batch(b)) return b;
    for (let i = 0; i < b.count; i++) {
      const f = b.frames[i]!;
      if (f.kind !== COMPLETE || f.dropped || !o.wants(f)) continue;
      const out = o.rewrite(f);
      if (out !== undefined) f.replace(out);
    }
    return b;
  });
}
