import type { Socket } from 'node:net';
import { ProtocolError, SlotrelayError } from '../errors.js';
import { decodeReply, type RespNode } from '../resp/decode.js';
import { encodeCommand } from '../resp/encode.js';
import { ReplyScanner } from '../resp/reply-scanner.js';

/**
 * Sends commands on a fresh connection and collects one reply per command (RESP2), for the
 * proxy's own control traffic (discovery, health checks). Rejects after `timeoutMs`.
 */
export function runCommands(
  sock: Socket,
  commands: ReadonlyArray<ReadonlyArray<string | Buffer | number>>,
  timeoutMs: number,
): Promise<RespNode[]> {
  return new Promise((resolve, reject) => {
    const scanner = new ReplyScanner();
    const replies: RespNode[] = [];
    let pending: Buffer[] = [];
    const timer = setTimeout(
      () => done(new SlotrelayError('SR_ERR_UPSTREAM', `no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      try {
        scanner.feed(chunk);
      } catch (e) {
        done(e instanceof ProtocolError ? e : new Error(String(e)));
        return;
      }
      let prev = 0;
      for (let i = 0; i < scanner.count; i++) {
        const end = scanner.ends[i]!;
        const bytes = pending.length ? Buffer.concat([...pending, chunk.subarray(0, end)]) : chunk.subarray(prev, end);
        pending = [];
        replies.push(decodeReply(bytes));
        prev = end;
      }
      if (prev < chunk.length) pending.push(chunk.subarray(prev));
      if (replies.length >= commands.length) done(null);
    };
    const onClose = () => done(new SlotrelayError('SR_ERR_UPSTREAM', 'connection closed before the reply'));
    const onError = (e: Error) => done(e);
    function done(err: Error | null) {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('error', onError);
      if (err) reject(err);
      else resolve(replies);
    }
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', onError);
    sock.write(Buffer.concat(commands.map((c) => encodeCommand(c))));
  });
}
