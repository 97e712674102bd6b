import { type Middleware, Pipeline, Session, type SessionOptions, silentLogger } from '@slotrelay/core';
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
