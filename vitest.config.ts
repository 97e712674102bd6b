import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Unit tests run on the TypeScript sources; e2e tests run the built packages (npm test builds first),
// exactly as the CLI does.
// Vite matches aliases in order and by prefix: the subpath comes before its package.
const sourceAliases = {
  '@slotrelay/core/internal': fileURLToPath(new URL('./packages/core/src/internal.ts', import.meta.url)),
  '@slotrelay/core': src('core'),
  '@slotrelay/middleware-redirect': src('middleware-redirect'),
  '@slotrelay/middleware-cluster-cmds': src('middleware-cluster-cmds'),
  '@slotrelay/middleware-admin': src('middleware-admin'),
  '@slotrelay/transport-tls': src('transport-tls'),
  '@slotrelay/testkit': src('testkit'),
};

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias: sourceAliases },
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.test.ts',
            'examples/*/test/**/*.test.ts',
            'chaos/test/**/*.test.ts',
            'test/scripts/**/*.test.ts',
          ],
          exclude: ['packages/local-cluster/**', 'packages/host/test/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: [
            'test/e2e/**/*.test.ts',
            'test/pack/**/*.test.ts',
            'packages/host/test/**/*.test.ts',
            'packages/local-cluster/test/**/*.test.ts',
          ],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'serial',
          include: ['test/serial/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 180_000,
          pool: 'forks',
        },
      },
      {
        // The quick chaos run (issue 13): each scenario starts its own clusters and proxies; `npm test`
        // runs this project alone, after the others, so their load does not disturb its figures.
        test: {
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
    ],
  },
});
