import { describe, expect, it } from 'vitest';
import { encodeCommand } from '@slotrelay/core';
import { sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

// Redis closes a client on its FIN, after answering what it read whole; the proxy passes the FIN on
// so a request left incomplete cannot keep the client waiting for a reply that never comes (issue 13).
describe('session: the client half-closes', () => {
  it('passes the FIN on to Redis and closes when Redis does, with the replies Redis sent', async () => {
    const h = await sessionHarness();
    // A SET whose value is larger than the hold limit streams to Redis: it is in flight, unfinished.
    h.clientSends(cmd('PING') + '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n' + 'x'.repeat(100_000));
    h.client.emit('end');
    expect(h.upstream.ended).toBe(true);
    h.redisSends('+PONG\r\n');
    expect(h.client.ended).toBe(false); // the SET counts as in flight: Redis's close ends it
    h.upstream.emit('close');
    expect(h.toClient()).toBe('+PONG\r\n');
    expect(h.client.ended).toBe(true);
  });

  it('a FIN before the upstream is attached reaches Redis after the queued requests', async () => {
    let attach!: () => void;
    const h = await sessionHarness({ connect: new Promise<void>((r) => (attach = r)) });
    h.clientSends(cmd('GET', 'k'));
    h.client.emit('end');
    attach();
    await h.settle();
    expect(h.toRedis()).toBe(cmd('GET', 'k'));
    expect(h.upstream.ended).toBe(true);
    h.redisSends('$-1\r\n');
    expect(h.toClient()).toBe('$-1\r\n');
    expect(h.client.ended).toBe(true);
  });

  it('after a protocol error the client is still read, and its FIN reaches Redis (a blocked command ends)', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('BLPOP', 'q', '0') + '*1\r\n$x\r\n');
    expect(h.client.paused).toBe(false);
    h.client.emit('end');
    expect(h.upstream.ended).toBe(true);
    h.upstream.emit('close'); // Redis closes a blocked client on its FIN, without a reply
    expect(h.toClient()).toBe('');
    expect(h.client.ended).toBe(true);
  });
});
