/**
 * @slotrelay-examples/mask-values — data masking as a third-party middleware: the values of keys
 * matching configured patterns reach the client as a mask, unless the session authenticated as one
 * of the exempt ACL users. Settings: `middlewareConfig["mask-values"]` in the slotrelay config.
 */
import { defineMiddleware, encodeCommand, encodeError, encodeReply, type RespNode } from '@slotrelay/core';
import { parseOptions, type MaskOptions } from './options.js';
import { REFUSED, READS, refusedKeys, type Shape } from './commands.js';

export { parseOptions, type MaskOptions } from './options.js';

/** What a session knows: who it is, and which queued commands of the open MULTI need masking. */
interface MaskState {
  user: string;
  queued: Array<{ txIndex: number; how: Masking }>;
}

/** How to mask one reply: its shape, and for MGET which positions. */
interface Masking {
  shape: Shape;
  positions?: boolean[];
}

type Mark = { reply: Masking } | { refused: string } | { exec: MaskState['queued'] } | { auth: string };

/** Sent to Redis instead of a refused command inside MULTI: Redis queues an error and aborts EXEC. */
const POISON = encodeCommand(['SLOTRELAY-MASK-VALUES-REFUSED']);

export default defineMiddleware<MaskState, MaskOptions>({
  name: 'mask-values',
  commands: [...Object.keys(READS), ...Object.keys(REFUSED), 'AUTH', 'HELLO', 'RESET', 'MULTI', 'EXEC', 'DISCARD'],
  options: parseOptions,
  state: () => ({ user: 'default', queued: [] }),
  onRequest(frame, s): Mark | undefined {
    const name = frame.command!;
    const args = frame.args();
    switch (name) {
      case 'AUTH': // AUTH [user] password; inside MULTI its reply is QUEUED: the session stays masked
        return frame.txIndex < 0 ? { auth: args.length > 2 ? args[1]!.toString() : 'default' } : undefined;
      case 'HELLO': {
        const i = args.findIndex((a, n) => n >= 2 && a.toString().toUpperCase() === 'AUTH');
        return i > 0 && frame.txIndex < 0 ? { auth: args[i + 1]?.toString() ?? '' } : undefined;
      }
      case 'RESET':
        return { auth: 'default' };
      case 'MULTI':
      case 'DISCARD':
        s.state.queued = [];
        return undefined;
      case 'EXEC': {
        const queued = s.state.queued;
        s.state.queued = [];
        return queued.length > 0 ? { exec: queued } : undefined;
      }
    }
    const { options } = s;
    if (name in REFUSED) {
      // Decided now: an AUTH still in flight does not count yet (refusing is the safe side).
      const key = refusedKeys(name, args).find((k) => options.matches(k));
      if (key === undefined || options.exempt(s.state.user)) return undefined;
      const why = `NOPERM slotrelay mask-values: '${name.toLowerCase()}' would reveal the masked key '${key}'`;
      if (frame.txIndex < 0) {
        s.answer(frame, encodeError(why));
        return undefined;
      }
      frame.replace(POISON);
      return { refused: why };
    }
    const shape = READS[name]!;
    const keys = shape === 'mget' ? args.slice(1) : [args[1]!];
    const positions = keys.map((k) => options.matches(k.toString('latin1')));
    if (!positions.includes(true)) return undefined;
    const how: Masking = shape === 'mget' ? { shape, positions } : { shape };
    if (frame.txIndex >= 0) {
      s.state.queued.push({ txIndex: frame.txIndex, how });
      return undefined;
    }
    return { reply: how };
  },
  onReply(frame, s, m) {
    const mark = m as Mark;
    if ('auth' in mark) {
      if (frame.type !== 0x2d /* - */) s.state.user = mark.auth;
      return;
    }
    if ('refused' in mark) {
      frame.replace(encodeError(mark.refused));
      return;
    }
    // Decided at the reply: replies come in order, so an AUTH before this read has been answered.
    if (s.options.exempt(s.state.user)) return;
    const reply = frame.decode();
    if ('reply' in mark) mask(reply, mark.reply, s.options.mask);
    else if (reply.items)
      for (const q of mark.exec) if (reply.items[q.txIndex]) mask(reply.items[q.txIndex]!, q.how, s.options.mask);
    frame.replace(encodeReply(reply));
  },
});

/** Replace the values in `reply` (in place) by `maskBytes`. Errors and nulls stay as they are. */
function mask(reply: RespNode, how: Masking, maskBytes: Buffer): void {
  const items = reply.items;
  switch (how.shape) {
    case 'value':
      return maskValue(reply, maskBytes);
    case 'values':
      return items?.forEach((n) => maskValue(n, maskBytes));
    case 'mget':
      return items?.forEach((n, i) => how.positions![i] && maskValue(n, maskBytes));
    case 'hash': // RESP2 flat array or RESP3 map: field, value, field, value …
      return items?.forEach((n, i) => i % 2 === 1 && maskValue(n, maskBytes));
  }
}

function maskValue(n: RespNode, maskBytes: Buffer): void {
  if (n.data !== undefined && n.data !== null && n.type !== 0x21 /* ! */) {
    n.data = maskBytes;
    n.type = 0x24; // a bulk string, in RESP2 and RESP3 alike
    delete n.format;
  }
}
