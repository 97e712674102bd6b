// The host's test support, shared with the suites at the root.
export * from '../../packages/host/test/support/fleet.js';
