/** @slotrelay/testkit — private helpers shared by the packages' tests. */
export * from './chunks.js';
export * from './fake-socket.js';
export * from './harness.js';
