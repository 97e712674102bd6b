import { defineConfig } from 'vitest/config';

// This package's tests alone (`npm test -w @slotrelay/testkit`).
export default defineConfig({ test: { include: ['test/**/*.test.ts'] } });
