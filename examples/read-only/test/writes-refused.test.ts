import { describe, expect, it } from 'vitest';
import { chunkings, runMiddleware, sessionHarness } from '@slotrelay/testkit';
import readOnly from '../src/index.js';

const NOPERM = (cmd: string) => ({ error: `NOPERM this proxy is read-only: '${cmd}' may write` });

describe('read-only', () => {
  it('a pipeline: writes are answered -NOPERM in their place and never reach Redis, reads pass', async () => {
    const r = await runMiddleware(readOnly, {
      clientSends: [
        ['GET', 'k'],
        ['SET', 'k', 'v'],
        ['del', 'k'],
        ['MGET', 'a', 'b'],
        ['EVAL_RO', 'return 1', '0'],
      ],
      redisReplies: ['$1\r\nx\r\n', '*2\r\n$-1\r\n$-1\r\n', ':1\r\n'],
    });
    expect(r.redisReceived).toEqual([
      ['GET', 'k'],
      ['MGET', 'a', 'b'],
      ['EVAL_RO', 'return 1', '0'],
    ]);
    expect(r.clientReceived).toEqual(['x', NOPERM('set'), NOPERM('del'), [null, null], 1]);
  });

  it('scripts that may write are refused; subcommands go by their own flag', async () => {
    const r = await runMiddleware(readOnly, {
      clientSends: [
        ['EVAL', 'return 1', '0'],
        ['XGROUP', 'CREATE', 's', 'g', '$'],
        ['XGROUP', 'HELP'],
        ['FUNCTION', 'LIST'],
      ],
      redisReplies: ['*1\r\n+help\r\n', '*0\r\n'],
    });
    expect(r.redisReceived).toEqual([
      ['XGROUP', 'HELP'],
      ['FUNCTION', 'LIST'],
    ]);
    expect(r.clientReceived).toEqual([NOPERM('eval'), NOPERM('xgroup|create'), ['help'], []]);
  });

  it('inside MULTI a write is refused at queue time, so Redis aborts EXEC and nothing runs', async () => {
    const r = await runMiddleware(readOnly, {
      clientSends: [['MULTI'], ['GET', 'k'], ['INCR', 'n'], ['EXEC']],
      // What Redis answers to what it receives: the refused INCR arrives as an unknown command.
      redisReplies: [
        '+OK\r\n',
        '+QUEUED\r\n',
        "-ERR unknown command 'SLOTRELAY-READ-ONLY-REFUSED', with args beginning with: \r\n",
        '-EXECABORT Transaction discarded because of previous errors.\r\n',
      ],
    });
    expect(r.redisReceived).toEqual([['MULTI'], ['GET', 'k'], ['SLOTRELAY-READ-ONLY-REFUSED'], ['EXEC']]);
    expect(r.clientReceived).toEqual([
      'OK',
      'QUEUED',
      NOPERM('incr'),
      { error: 'EXECABORT Transaction discarded because of previous errors.' },
    ]);
  });

  it('a write split at any byte is still refused whole, and nothing reaches Redis', async () => {
    for (const { label, chunks } of chunkings(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n'))) {
      const h = await sessionHarness({ middleware: [readOnly.create()] });
      h.clientSends(...chunks);
      await h.settle();
      expect(h.toRedis(), label).toBe('');
      expect(h.toClient(), label).toBe("-NOPERM this proxy is read-only: 'set' may write\r\n");
    }
  });
});
