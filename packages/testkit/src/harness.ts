import {
  encodeCommand,
  type Middleware,
  Pipeline,
  Session,
  type SessionOptions,
  silentLogger,
} from '@slotrelay/core/internal';
import { parseValues, type Value } from './resp-values.js';
import { FakeSocket } from './fake-socket.js';

/** Options of `sessionHarness`. */
export interface HarnessOptions {
  middleware?: Middleware[];
  session?: SessionOptions;
  /** Client socket capacity before `write` reports backpressure. */
  clientCapacity?: number;
  upstreamCapacity?: number;
  /** Make the upstream connection fail with this error (or an Error with this message) instead. */
  upstreamError?: string | Error;
  /** The upstream connection as the test settles it (e.g. a dial that fails later); overrides `upstreamError`. */
  connect?: Promise<unknown>;
}

/**
 * A real `Session` and a real `Pipeline` over in-memory sockets: no network, and the test chooses
 * every chunk boundary on both sides.
 */
export async function sessionHarness(o: HarnessOptions = {}) {
  const client = new FakeSocket(o.clientCapacity);
  const upstream = new FakeSocket(o.upstreamCapacity);
  const pipeline = new Pipeline(o.middleware ?? []);
  const session = new Session(
    client.asSocket(),
    { name: 'test', host: '127.0.0.1', port: 6391, tls: false },
    pipeline,
    () => {
      if (o.connect) return o.connect.then(() => upstream.asSocket());
      const e = o.upstreamError;
      return e ? Promise.reject(typeof e === 'string' ? new Error(e) : e) : Promise.resolve(upstream.asSocket());
    },
    silentLogger,
    o.session,
  );
  session.start();
  await new Promise((r) => setImmediate(r)); // let the upstream promise settle
  return {
    session,
    client,
    upstream,
    /** The client sends these chunks. */
    clientSends: (...chunks: Array<Buffer | string>) => chunks.forEach((c) => client.receive(c)),
    /** Redis sends these chunks. */
    redisSends: (...chunks: Array<Buffer | string>) => chunks.forEach((c) => upstream.receive(c)),
    /** Bytes forwarded to Redis so far. */
    toRedis: () => upstream.written().toString('latin1'),
    /** Bytes written to the client so far. */
    toClient: () => client.written().toString('latin1'),
    /** Let promises (deferred replies) settle. */
    settle: () => new Promise((r) => setTimeout(r, 5)),
  };
}

/** Something `runMiddleware` can run: a `Middleware`, or a module from `defineMiddleware` (built with `config`). */
export type Runnable = Middleware | { create(raw?: Readonly<Record<string, unknown>>): Middleware };

/** Options of `runMiddleware`. */
export interface RunOptions {
  /** What the client sends, pipelined in one chunk: each command as its arguments, or raw RESP bytes. */
  clientSends: ReadonlyArray<readonly string[] | string | Buffer>;
  /** What Redis answers, raw RESP (`'+OK\r\n'`), in order, once every request has been forwarded. */
  redisReplies?: ReadonlyArray<string | Buffer>;
  /** The middleware's settings (its `middlewareConfig` entry), for modules from `defineMiddleware`. */
  config?: Readonly<Record<string, unknown>>;
}

/** What `runMiddleware` saw at both ends. */
export interface RunResult {
  /** The commands Redis received, each as its arguments (latin1). */
  redisReceived: string[][];
  /** The replies the client received, parsed (`parseValues`: errors are `{ error }`). */
  clientReceived: Value[];
  /** The raw bytes on each side. */
  toRedis: string;
  toClient: string;
}

/**
 * Runs middleware (one, or several in pipeline order) in a real session without sockets: the client
 * sends `clientSends`, Redis answers `redisReplies`, and the result says what each end received.
 * Give Redis one reply per command it receives (`redisReceived` tells you which when unsure).
 */
export async function runMiddleware(mw: Runnable | readonly Runnable[], o: RunOptions): Promise<RunResult> {
  const list = (Array.isArray(mw) ? mw : [mw]) as readonly Runnable[];
  const middleware = list.map((m) =>
    'create' in m && typeof m.create === 'function' ? m.create(o.config) : (m as Middleware),
  );
  const h = await sessionHarness({ middleware });
  h.clientSends(
    Buffer.concat(o.clientSends.map((c) => (Array.isArray(c) ? encodeCommand(c) : Buffer.from(c as string | Buffer)))),
  );
  await h.settle();
  for (const r of o.redisReplies ?? []) h.redisSends(r);
  await h.settle();
  const toRedis = h.toRedis();
  const toClient = h.toClient();
  h.session.close('done');
  return {
    redisReceived: parseValues(toRedis).map((v) => (Array.isArray(v) ? v.map(String) : [String(v)])),
    clientReceived: parseValues(toClient),
    toRedis,
    toClient,
  };
}
