import { describe, expect, it } from 'vitest';
import { defineMiddleware, encodeError } from '@slotrelay/core';
import { runMiddleware } from '@slotrelay/testkit';

/** The ≤ 30-line middleware the authoring guide promises: no decorators, no RxJS. */
const upperValues = defineMiddleware<{ seen: number }, { prefix: string }>({
  name: 'upper-values',
  commands: ['GET', 'DEL'],
  options: (raw) => ({ prefix: String(raw.prefix ?? '') }),
  state: () => ({ seen: 0 }),
  onRequest(frame, s) {
    if (frame.command === 'DEL') {
      s.answer(frame, encodeError('NOPERM no deletes here'));
      return undefined;
    }
    s.state.seen++;
    return frame.args()[1]!.toString().startsWith(s.options.prefix) ? 'upper' : undefined;
  },
  onReply(frame, s, mark) {
    const v = frame.decode();
    if (mark === 'upper' && v.data)
      frame.replace(Buffer.from(`+${v.data.toString().toUpperCase()} #${s.state.seen}\r\n`));
  },
});

describe('runMiddleware with a defineMiddleware module', () => {
  it('a pipeline: local answers keep their place, only marked replies reach onReply, settings come from config', async () => {
    const r = await runMiddleware(upperValues, {
      config: { prefix: 'u:' },
      clientSends: [['GET', 'u:1'], ['DEL', 'u:1'], ['GET', 'other'], ['PING']],
      redisReplies: ['$3\r\nabc\r\n', '$3\r\nxyz\r\n', '+PONG\r\n'],
    });
    expect(r.redisReceived).toEqual([['GET', 'u:1'], ['GET', 'other'], ['PING']]);
    expect(r.clientReceived).toEqual(['ABC #2', { error: 'NOPERM no deletes here' }, 'xyz', 'PONG']);
  });

  it('state is per session: a second run starts from scratch', async () => {
    const r = await runMiddleware(upperValues, {
      config: { prefix: '' },
      clientSends: [['GET', 'a']],
      redisReplies: ['$1\r\nq\r\n'],
    });
    expect(r.clientReceived).toEqual(['Q #1']);
  });

  it('a plain Middleware object runs too (the full operator form)', async () => {
    const r = await runMiddleware({ name: 'nothing' }, { clientSends: [['PING']], redisReplies: ['+PONG\r\n'] });
    expect(r).toMatchObject({ redisReceived: [['PING']], clientReceived: ['PONG'] });
  });
});
