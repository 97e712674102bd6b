import { defineConfig } from 'vitest/config';

// This package's tests alone (`npm test` here): on its sources, with the built @slotrelay packages.
export default defineConfig({ test: { include: ['test/**/*.test.ts'] } });
