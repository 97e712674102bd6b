import { defineConfig } from 'vitest/config';

// This package's tests alone (`npm test -w @slotrelay/host`): like the root e2e project, on the
// built packages (build first), with one shared Redis Cluster started by the globalSetup.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
