import type { Socket } from 'node:net';
import { encodeCommand } from '../resp/encode.js';
import type { LentReads } from '../transport/tcp.js';
import { type SharedEnd, SharedUpstream } from './shared-upstream.js';

/**
 * What a connection's replies depend on besides the request (ARCHITECTURE.md "Multiplexing"): the
 * protocol (HELLO 2/3), the credentials it authenticated with (AUTH's arguments exactly as the
 * client sent them, so Redis's answer to the pool's AUTH is the answer the client would get) and
 * READONLY. Sessions share connections only with sessions of the same key.
 */
export interface PoolKey {
  readonly protocol: 2 | 3;
  /** AUTH's arguments (`[password]` or `[username, password]`), or null: never authenticated. */
  readonly credentials: readonly Buffer[] | null;
  readonly readonly: boolean;
}

/** A connection as Redis opens it. */
export const DEFAULT_KEY: PoolKey = { protocol: 2, credentials: null, readonly: false };

/** The key as a map key: never logged (it holds the password). */
export function keyId(k: PoolKey): string {
  const c = k.credentials === null ? '-' : k.credentials.map((b) => b.toString('hex')).join(':');
  return `${k.protocol}${k.readonly ? 'r' : 'w'}${c}`;
}

export function sameKey(a: PoolKey, b: PoolKey): boolean {
  return keyId(a) === keyId(b);
}

/**
 * The commands that bring a new connection to a key's state: AUTH first (HELLO 3 and READONLY
 * need an authenticated connection), then HELLO 3, then READONLY. Empty for `DEFAULT_KEY`.
 */
export function handshakeFor(k: PoolKey): Buffer[] {
  const out: Buffer[] = [];
  if (k.credentials !== null) out.push(encodeCommand(['AUTH', ...k.credentials]));
  if (k.protocol === 3) out.push(encodeCommand(['HELLO', '3']));
  if (k.readonly) out.push(encodeCommand(['READONLY']));
  return out;
}

/**
 * The shared connections of one listener to its Redis node: up to `size` per key, opened when a
 * session first needs one. A session stays on the connection it was given (its requests are
 * answered in order, and WAIT sees the writes it made on it) until that connection is gone.
 */
export class UpstreamPool {
  private readonly byKey = new Map<string, SharedUpstream[]>();
  private readonly turn = new Map<string, number>();
  private closed = false;

  constructor(
    /** Opens a connection to the node, reading into `reads` if the transport can. */
    private readonly dial: (reads: LentReads) => Promise<Socket>,
    private readonly size: number,
    private readonly maxBulkBytes: number,
    /** Told when a connection ends (for the log and the metrics). */
    private readonly onEnd: (why: SharedEnd) => void = () => {},
  ) {}

  /** Connections open (or opening) now, over every key. */
  get connections(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.length;
    return n;
  }

  /** Keys with at least one connection. */
  get keys(): number {
    return this.byKey.size;
  }

  /** A connection of `key` for a session: a new one while the key has fewer than `size`, else the next in turn. */
  acquire(key: PoolKey): SharedUpstream {
    if (this.closed) {
      const gone = new SharedUpstream(() => {}, this.maxBulkBytes);
      gone.close();
      return gone;
    }
    const id = keyId(key);
    let list = this.byKey.get(id);
    if (list === undefined) this.byKey.set(id, (list = []));
    if (list.length < this.size) {
      const conn = new SharedUpstream((c, why) => this.ended(id, c, why), this.maxBulkBytes);
      list.push(conn);
      this.open(conn, key);
      return conn;
    }
    const t = this.turn.get(id) ?? 0;
    this.turn.set(id, t + 1);
    return list[t % list.length]!;
  }

  /** Close every connection (sessions still owed replies are told by each). */
  close(): void {
    this.closed = true;
    for (const list of [...this.byKey.values()]) for (const c of [...list]) c.close();
    this.byKey.clear();
  }

  private open(conn: SharedUpstream, key: PoolKey): void {
    this.dial(conn.reads).then(
      (sock) => conn.attach(sock, handshakeFor(key)),
      () => conn.close(),
    );
  }

  private ended(id: string, conn: SharedUpstream, why: SharedEnd): void {
    const list = this.byKey.get(id);
    if (list !== undefined) {
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(id);
    }
    this.onEnd(why);
  }
}
