import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// This package's tests alone (`npm test -w @slotrelay/middleware-cluster-cmds`): its own name resolves to its sources,
// other @slotrelay packages to their builds (build them first). The root config runs every package.
export default defineConfig({
  resolve: {
    alias: { '@slotrelay/middleware-cluster-cmds': fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: { include: ['test/**/*.test.ts'], testTimeout: 20_000 },
});
