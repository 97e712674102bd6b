import { describe, expect, it } from 'vitest';
import { encodeCommand, NO_REPLY, RespType } from '@slotrelay/core/internal';
import { ConnectionState, CORE_COMMANDS, REPLY_OFF, REPLY_ON } from '../src/session/connection-state.js';
import { COMPLETE, Frame } from '../src/session/frame.js';
import { E_HELLO, E_MONITOR, E_RESET, Entry, PUBSUB } from '../src/session/in-flight.js';

/** A complete request frame, named as the pipeline's table would name it (core's commands only). */
function request(...args: string[]): { f: Frame; cmd: string | undefined } {
  const buf = encodeCommand(args);
  const f = new Frame().set(buf, 0, buf.length, COMPLETE);
  f.argc = args.length;
  const name = args[0]?.toUpperCase();
  return { f, cmd: name !== undefined && CORE_COMMANDS.includes(name) ? name : undefined };
}

/** The client sends these requests; returns their frames as `trackRequest` left them. */
function send(st: ConnectionState, ...requests: string[][]): Frame[] {
  return requests.map((args) => {
    const { f, cmd } = request(...args);
    st.trackRequest(f, cmd);
    return f;
  });
}

const reply = (s: string) => Buffer.from(s, 'latin1');

describe('ConnectionState: what Redis remembers of a client, without sockets', () => {
  it('a new connection lets both lanes run and expects one reply per request', () => {
    const st = new ConnectionState();
    expect([st.requestLaneOpen, st.replyLaneOpen, st.idleExempt]).toEqual([true, true, false]);
    const [f] = send(st, ['GET', 'k']);
    expect(f!.expectsReply).toBe(true);
    expect(f!.entry).toBeNull();
  });

  it('MULTI closes the request lane until EXEC, DISCARD or RESET; queued commands get their EXEC index', () => {
    for (const end of ['EXEC', 'DISCARD', 'RESET']) {
      const st = new ConnectionState();
      const [, a, b] = send(st, ['MULTI'], ['SET', 'a', '1'], ['GET', 'a']);
      expect(st.requestLaneOpen, end).toBe(false);
      expect([a!.txIndex, b!.txIndex]).toEqual([0, 1]);
      send(st, [end]);
      expect(st.requestLaneOpen, end).toBe(true);
    }
  });

  it('MULTI with an argument is an arity error: no transaction starts', () => {
    const st = new ConnectionState();
    send(st, ['MULTI', 'x']);
    expect(st.inTransaction).toBe(false);
  });

  it('CLIENT REPLY OFF: no reply expected until ON (whose reply comes); the lane is closed meanwhile', () => {
    const st = new ConnectionState();
    const [off, get, on] = send(st, ['CLIENT', 'REPLY', 'OFF'], ['GET', 'k'], ['CLIENT', 'REPLY', 'ON']);
    expect([off!.expectsReply, get!.expectsReply, on!.expectsReply]).toEqual([false, false, true]);
    expect(st.replyMode).toBe(REPLY_ON);
    send(st, ['CLIENT', 'REPLY', 'OFF']);
    expect(st.replyMode).toBe(REPLY_OFF);
    expect(st.requestLaneOpen).toBe(false);
  });

  it('CLIENT REPLY SKIP silences exactly the next request; an empty request ends it too', () => {
    const st = new ConnectionState();
    const [skip, a, b] = send(st, ['CLIENT', 'REPLY', 'SKIP'], ['GET', 'a'], ['GET', 'b']);
    expect([skip!.expectsReply, a!.expectsReply, b!.expectsReply]).toEqual([false, false, true]);
    send(st, ['CLIENT', 'REPLY', 'SKIP']);
    const empty = new Frame().set(reply('*0\r\n'), 0, 4, COMPLETE);
    empty.flags = NO_REPLY;
    st.trackRequest(empty, undefined);
    expect(send(st, ['GET', 'c'])[0]!.expectsReply).toBe(true);
  });

  it('QUIT is followed; HELLO, MONITOR and RESET get entries the reply side acts on', () => {
    const st = new ConnectionState();
    const [hello, monitor, reset] = send(st, ['HELLO', '3'], ['MONITOR'], ['RESET']);
    expect(hello!.entry!.core).toBe(E_HELLO);
    expect(monitor!.entry!.core).toBe(E_MONITOR);
    expect(reset!.entry!.core).toBe(E_RESET);
    st.onCoreReply(hello!.entry!, RespType.Map);
    expect(st.protocol).toBe(3);
    st.onCoreReply(monitor!.entry!, RespType.SimpleString);
    expect([st.monitor, st.replyLaneOpen, st.idleExempt]).toEqual([true, false, true]);
    st.onCoreReply(reset!.entry!, RespType.SimpleString);
    expect([st.protocol, st.monitor, st.replyLaneOpen]).toEqual([2, false, true]);
    expect(st.quit).toBe(false);
    send(st, ['QUIT']);
    expect(st.quit).toBe(true);
  });

  it('a failed HELLO leaves the protocol as it was', () => {
    const st = new ConnectionState();
    const [hello] = send(st, ['HELLO', '3']);
    st.onCoreReply(hello!.entry!, RespType.Error);
    expect(st.protocol).toBe(2);
  });

  it('pub/sub: confirmations count subscriptions (closing the reply lane) and complete the request entry', () => {
    const st = new ConnectionState();
    const [sub] = send(st, ['SUBSCRIBE', 'a', 'b']);
    const e = sub!.entry!;
    expect([e.kind, e.expected]).toEqual([PUBSUB, 2]);
    const confirm = (word: string, ch: string, n: number) => {
      const buf = reply(`*3\r\n$${word.length}\r\n${word}\r\n$${ch.length}\r\n${ch}\r\n:${n}\r\n`);
      const f = new Frame().set(buf, 0, buf.length, COMPLETE);
      expect(st.isOutOfBand(RespType.Array, buf, 0, buf.length, true)).toBe(true);
      return st.confirmPubsub(f, buf, 0, buf.length, e);
    };
    expect(confirm('subscribe', 'a', 1)).toBe(false);
    expect(confirm('subscribe', 'b', 2)).toBe(true);
    expect([st.subscribed, st.replyLaneOpen, st.idleExempt]).toEqual([2, false, true]);
  });

  it('RESP2 subscribed: a command other than (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET is refused with no effect', () => {
    const st = new ConnectionState();
    send(st, ['SUBSCRIBE', 'a'], ['MULTI'], ['HELLO', '3'], ['MULTI']);
    expect(st.inTransaction).toBe(false);
    send(st, ['UNSUBSCRIBE', 'a'], ['MULTI']);
    expect(st.inTransaction).toBe(true);
  });

  it('a MONITOR line and a push are out of band; a plain reply is not', () => {
    const st = new ConnectionState();
    const line = reply('+1700000000.123456 [0 127.0.0.1:1] "get" "k"\r\n');
    expect(st.isOutOfBand(RespType.SimpleString, line, 0, line.length, false)).toBe(false);
    st.onCoreReply(Object.assign(new Entry(), { core: E_MONITOR }), RespType.SimpleString);
    expect(st.isOutOfBand(RespType.SimpleString, line, 0, line.length, false)).toBe(true);
    const ok = reply('+OK\r\n');
    expect(st.isOutOfBand(RespType.SimpleString, ok, 0, ok.length, false)).toBe(false);
    const push = reply('>2\r\n$7\r\nmessage\r\n$1\r\nx\r\n');
    expect(new ConnectionState().isOutOfBand(RespType.Push, push, 0, push.length, false)).toBe(true);
  });
});
