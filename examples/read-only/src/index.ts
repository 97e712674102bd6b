/**
 * @slotrelay-examples/read-only — refuses every command that may write, as a third-party
 * middleware written with `defineMiddleware`. Enable it with the package's name or folder path in
 * the config's `middleware` list.
 */
import { defineMiddleware, encodeCommand, encodeError } from '@slotrelay/core';
import { WRITE_COMMANDS, WRITE_SUBCOMMANDS } from './write-commands.js';

/** Scripts and functions may write without the `write` flag; their `_RO` forms may not, and pass. */
const SCRIPTS = ['EVAL', 'EVALSHA', 'FCALL'];

/**
 * Inside MULTI the refused command goes to Redis as this unknown command instead: Redis queues the
 * error and flags the transaction, so EXEC answers `-EXECABORT` and nothing of it runs — exactly as
 * when Redis itself refuses a command at queue time.
 */
const POISON = encodeCommand(['SLOTRELAY-READ-ONLY-REFUSED']);

export default defineMiddleware({
  name: 'read-only',
  commands: [...WRITE_COMMANDS, ...Object.keys(WRITE_SUBCOMMANDS), ...SCRIPTS],
  onRequest(frame, s) {
    let what = frame.command!;
    const subs = WRITE_SUBCOMMANDS[what];
    if (subs) {
      const sub = frame.args()[1]?.toString('latin1').toUpperCase() ?? '';
      if (!subs.includes(sub)) return undefined;
      what = `${what}|${sub}`;
    }
    // NOPERM, not READONLY: clients take READONLY for a failover and retry or reconnect.
    const error = `NOPERM this proxy is read-only: '${what.toLowerCase()}' may write`;
    if (frame.txIndex < 0) {
      s.answer(frame, encodeError(error));
      return undefined;
    }
    frame.replace(POISON);
    return error; // see the reply: Redis's "unknown command" becomes this error
  },
  onReply(frame, _s, error) {
    frame.replace(encodeError(error as string));
  },
});
