/** @slotrelay/testkit — test helpers for middleware authors (and slotrelay's own packages): sessions without sockets, chunk splitters, `runMiddleware`. */
export * from './chunks.js';
export * from './fake-socket.js';
export * from './harness.js';
export * from './resp-values.js';
