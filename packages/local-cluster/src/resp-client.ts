import net from 'node:net';
import tls from 'node:tls';

/** A decoded RESP2 reply (bulk/simple strings as strings, nil as null). */
export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply (`-ERR …`). */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** Where and how to reach one node. */
export interface Endpoint {
  host: string;
  port: number;
  /** PEM contents; when present the connection is TLS (server certificate checked against `ca`, no hostname check). */
  tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

/** Parses one RESP2 value at `pos`; returns undefined when the buffer holds an incomplete value. */
function parse(buf: Buffer, pos: number): { value: RespValue; next: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString('utf8', pos + 1, eol);
  switch (type) {
    case '+':
      return { value: line, next: eol + 2 };
    case '-':
      return { value: new RespError(line), next: eol + 2 };
    case ':':
      return { value: Number(line), next: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: eol + 2 };
      const end = eol + 2 + len;
      if (buf.length < end + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, end), next: end + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next: eol + 2 };
      const items: RespValue[] = [];
      let next = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

/**
 * Opens one connection, pipelines `commands`, and resolves with their replies in order
 * (error replies are returned as {@link RespError} values, not thrown). Bounded by `timeoutMs`.
 */
export function sendCommands(
  ep: Endpoint,
  commands: readonly (readonly string[])[],
  timeoutMs = 3000,
): Promise<RespValue[]> {
  return new Promise<RespValue[]>((resolve, reject) => {
    const sock: net.Socket = ep.tls
      ? tls.connect({
          host: ep.host,
          port: ep.port,
          ca: ep.tls.ca,
          cert: ep.tls.cert,
          key: ep.tls.key,
          ...(net.isIP(ep.host) === 0 ? { servername: ep.host } : {}),
          checkServerIdentity: () => undefined,
        })
      : net.connect({ host: ep.host, port: ep.port });
    const replies: RespValue[] = [];
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(
      () => finish(new Error(`${ep.host}:${ep.port}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.once(ep.tls ? 'secureConnect' : 'connect', () => sock.write(commands.map(encode).join('')));
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        let pos = 0;
        for (;;) {
          const r = parse(buf, pos);
          if (r === undefined) break;
          replies.push(r.value);
          pos = r.next;
          if (replies.length === commands.length) return finish(undefined);
        }
        buf = buf.subarray(pos);
      } catch (err) {
        finish(err as Error);
      }
    });
    sock.on('error', (err) => finish(new Error(`${ep.host}:${ep.port}: ${err.message}`)));
    sock.on('close', () => finish(new Error(`${ep.host}:${ep.port}: connection closed before all replies arrived`)));
  });
}

/** Sends one command; resolves with its reply, rejects on an error reply. */
export async function sendCommand(ep: Endpoint, args: readonly string[], timeoutMs = 3000): Promise<RespValue> {
  const [reply] = await sendCommands(ep, [args], timeoutMs);
  if (reply instanceof RespError) throw new Error(`${ep.host}:${ep.port} ${args.join(' ')}: ${reply.message}`);
  return reply ?? null;
}
