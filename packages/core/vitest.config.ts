import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// This package's tests alone (`npm test -w @slotrelay/core`): its own name and the testkit's resolve
// to their sources (core has no package dependency on the testkit: the testkit depends on core).
// The root config runs every package.
export default defineConfig({
  // Vite matches aliases in order and by prefix: the subpath comes before the package.
  resolve: {
    alias: {
      '@slotrelay/core/internal': fileURLToPath(new URL('./src/internal.ts', import.meta.url)),
      '@slotrelay/core': fileURLToPath(new URL('./src/index.ts', import.meta.url)),
      '@slotrelay/testkit': fileURLToPath(new URL('../testkit/src/index.ts', import.meta.url)),
    },
  },
  test: { include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
