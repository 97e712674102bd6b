import type { Socket } from 'node:net';
import { SlotrelayError } from '../errors.js';
import { RespType } from '../resp/constants.js';
import { ReplyScanner } from '../resp/reply-scanner.js';
import type { LentReads } from '../transport/tcp.js';

/**
 * Send `commands` on a connection nobody uses yet and wait for their replies (a pinned session's
 * own connection, brought to its pool key's state before its requests follow). Rejects with an
 * upstream error if Redis answers one with an error or the connection closes first. `reads`: the
 * socket's lent reads, when it reads that way (its consumer is restored after).
 */
export function handshake(sock: Socket, commands: readonly Buffer[], reads?: LentReads): Promise<Socket> {
  if (commands.length === 0) return Promise.resolve(sock);
  return new Promise((resolve, reject) => {
    const sc = new ReplyScanner();
    let answered = 0;
    const saved = reads?.onRead;
    const done = (err: Error | null) => {
      sock.off('data', onData);
      sock.off('close', onClose);
      if (reads !== undefined && saved !== undefined) reads.onRead = saved;
      if (err === null) resolve(sock);
      else {
        sock.destroy();
        reject(err);
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        sc.feed(chunk, 0, chunk.length);
      } catch (e) {
        done(e as Error);
        return;
      }
      let from = 0;
      for (let i = 0; i < sc.count; i++) {
        const t = sc.types[i];
        if (t === RespType.Error || t === RespType.BlobError) {
          const text = chunk.toString('latin1', from + 1, sc.ends[i]! - 2);
          done(new SlotrelayError('SR_ERR_UPSTREAM', `Redis refused the connection's state: ${text}`));
          return;
        }
        from = sc.ends[i]!;
      }
      answered += sc.count;
      if (answered >= commands.length) done(null);
    };
    const onClose = () => done(new SlotrelayError('SR_ERR_UPSTREAM', 'connection to Redis lost'));
    sock.on('data', onData);
    sock.on('close', onClose);
    if (reads !== undefined) reads.onRead = onData;
    for (const c of commands) sock.write(c);
  });
}
