import { defineConfig } from 'vitest/config';

// This package's tests alone (`npm test -w @slotrelay/local-cluster`), on its sources:
// each test starts its own Redis nodes.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000, pool: 'forks' },
});
