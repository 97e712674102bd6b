// The host's log capture, shared with the suites at the root.
export * from '../../packages/host/test/support/log.js';
