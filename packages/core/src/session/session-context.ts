import type { ListenerInfo, SessionContext } from '../middleware/contract.js';
import type { Logger } from '../logger.js';
import type { Protocol } from '../resp/encode.js';
import type { Frame } from './frame.js';
import { Entry } from './in-flight.js';

/** What the middleware facade reads of its session. */
export interface ContextSource {
  readonly id: number;
  readonly protocol: Protocol;
  readonly inTransaction: boolean;
  readonly clientAddress: string;
  readonly listener: ListenerInfo;
  readonly log: Logger;
  answer(frame: Frame, reply: Buffer | Promise<Buffer>): void;
  close(reason: string): void;
}

/** The `SessionContext` of the middleware at position `slot` of the pipeline, over session `s`. */
export function sessionContext(s: ContextSource, slot: number, middlewareName: string): SessionContext {
  let log: Logger | undefined;
  return {
    id: s.id,
    get protocol() {
      return s.protocol;
    },
    get inTransaction() {
      return s.inTransaction;
    },
    clientAddress: s.clientAddress,
    listener: s.listener,
    get log() {
      return (log ??= s.log.child({ middleware: middlewareName, session: s.id }));
    },
    // Middleware see frames as `FrameView`s; every frame handed to them is one of this session's.
    answer: (f, r) => s.answer(f as Frame, r),
    mark(f, value) {
      if (!f.expectsReply) return; // no reply will come to carry the mark
      (((f as Frame).entry ??= new Entry()).marks ??= [])[slot] = value;
    },
    markOf(f) {
      return (f as Frame).entry?.marks?.[slot];
    },
    close: (reason) => s.close(reason),
  };
}
