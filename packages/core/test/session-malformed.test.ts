import { describe, expect, it } from 'vitest';
import { encodeCommand } from '@slotrelay/core';
import { chunkings, sessionHarness } from '@slotrelay/testkit';

const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

// What the proxy answers for malformed input must be byte for byte what Redis answers (issue 13,
// the malformed-input chaos scenario); each case below was a difference found by it.
describe('session: malformed input answered as Redis answers it', () => {
  it("quotes the raw byte in `expected '$'`, in Latin-1, split at every boundary", async () => {
    const input = Buffer.from(cmd('PING') + '*1\r\n\x11\xe9\r\n', 'latin1');
    for (const { label, chunks } of chunkings(input)) {
      const h = await sessionHarness();
      h.clientSends(...chunks);
      h.redisSends('+PONG\r\n');
      expect(h.client.written().toString('latin1'), label).toBe(
        "+PONG\r\n-ERR Protocol error: expected '$', got '\x11'\r\n",
      );
      expect(h.client.ended, label).toBe(true);
    }
  });

  it('CLIENT REPLY SKIP and OFF silence the protocol error too; the session still closes', async () => {
    for (const mode of ['SKIP', 'OFF']) {
      const h = await sessionHarness();
      h.clientSends(cmd('CLIENT', 'REPLY', mode) + '*1\r\n$x\r\n');
      expect(h.toClient(), mode).toBe('');
      expect(h.client.ended, mode).toBe(true);
    }
  });

  it('CLIENT REPLY OFF does not silence subscribe confirmations (pushes): they reach the client', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('CLIENT', 'REPLY', 'OFF') + cmd('SUBSCRIBE', 'ch') + cmd('PING'));
    const confirmation = '*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n';
    h.redisSends(confirmation);
    expect(h.toClient()).toBe(confirmation);
  });

  it('CLIENT REPLY SKIP then SUBSCRIBE: the confirmation comes, and the next reply too', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('CLIENT', 'REPLY', 'SKIP') + cmd('SUBSCRIBE', 'ch') + cmd('UNSUBSCRIBE', 'ch') + cmd('PING'));
    const sub = '*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n';
    const unsub = '*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n';
    h.redisSends(sub + unsub + '+PONG\r\n');
    expect(h.toClient()).toBe(sub + unsub + '+PONG\r\n');
  });

  it('*-0 alone is an invalid multibulk length at once', async () => {
    const h = await sessionHarness();
    h.clientSends('*-0\r\n');
    expect(h.toClient()).toBe('-ERR Protocol error: invalid multibulk length\r\n');
  });

  it('QUIT: Redis reads nothing after it, so nor does the proxy (no protocol error of its own)', async () => {
    const input = Buffer.from(cmd('QUIT') + '*2\r\n$\x865\r\nHELLO\r\n' + cmd('PING'), 'latin1');
    for (const { label, chunks } of chunkings(input)) {
      const h = await sessionHarness();
      h.clientSends(...chunks);
      expect(h.toRedis(), label).toBe(cmd('QUIT'));
      h.redisSends('+OK\r\n');
      expect(h.toClient(), label).toBe('+OK\r\n');
      expect(h.client.ended, label).toBe(true);
    }
  });

  it('RESET under CLIENT REPLY SKIP gets no reply; the next command does', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('CLIENT', 'REPLY', 'SKIP') + cmd('RESET') + cmd('PING'));
    h.redisSends('+PONG\r\n');
    expect(h.toClient()).toBe('+PONG\r\n');
    expect(h.session.inFlight).toBe(0);
  });

  it('RESP2 with a subscription: Redis rejects MULTI and CLIENT REPLY without effect, so they change no state', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('SUBSCRIBE', 'ch') + cmd('MULTI') + cmd('CLIENT', 'REPLY', 'SKIP') + cmd('PING'));
    expect(h.session.inTransaction).toBe(false);
    h.clientSends(cmd('UNSUBSCRIBE') + cmd('MULTI'));
    expect(h.session.inFlight).toBe(6); // each gets a reply: none was skipped
    const rejected = (c: string) =>
      `-ERR Can't execute '${c}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n`;
    const replies = [
      '*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n',
      rejected('multi'),
      rejected('client|reply'),
      '*2\r\n$4\r\npong\r\n$0\r\n\r\n',
      '*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n',
      '+OK\r\n',
    ];
    h.redisSends(replies.join(''));
    expect(h.toClient()).toBe(replies.join(''));
    expect(h.session.inFlight).toBe(0);
    expect(h.session.inTransaction).toBe(true); // the MULTI after the last UNSUBSCRIBE counts
  });

  it('RESET, MULTI, EXEC, DISCARD, MONITOR with arguments are arity errors: no effect', async () => {
    const h = await sessionHarness();
    // \r is a space to sdssplitargs: RESET with two arguments, which must not turn replies back on.
    h.clientSends(cmd('CLIENT', 'REPLY', 'OFF') + 'RESET\rEXISTS k\r\n' + cmd('MULTI', 'x') + cmd('PING'));
    expect(h.session.inFlight).toBe(0);
    expect(h.session.inTransaction).toBe(false);
  });

  it("a watched command's arguments are decoded as framed: the byte after a header's CR skipped", async () => {
    const input = Buffer.from('*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\rxOFF\r\n' + cmd('PING'), 'latin1');
    for (const { label, chunks } of chunkings(input)) {
      const h = await sessionHarness();
      h.clientSends(...chunks);
      expect(h.toClient(), label).toBe('');
      expect(h.session.inFlight, label).toBe(0); // CLIENT REPLY OFF, then a PING with no reply
      expect(h.toRedis(), label).toBe(input.toString('latin1'));
    }
  });

  it('CLIENT REPLY inside MULTI is queued, not applied', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('CLIENT', 'REPLY', 'OFF') + cmd('MULTI') + cmd('CLIENT', 'REPLY', 'ON') + cmd('PING'));
    expect(h.session.inFlight).toBe(0);
  });

  it('SSUBSCRIBE does not count as a subscription on the request side (it may fail with MOVED)', async () => {
    const h = await sessionHarness();
    h.clientSends(cmd('SSUBSCRIBE', 'elsewhere') + cmd('MULTI'));
    expect(h.session.inTransaction).toBe(true);
  });
});
