// The host's globalSetup (one shared 6-node cluster), used by the root e2e project too.
export * from '../../packages/host/test/support/global-setup.js';
