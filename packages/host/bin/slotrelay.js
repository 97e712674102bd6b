#!/usr/bin/env node
// The installed command. The CLI itself is compiled TypeScript (dist/cli.js): run `npm run build` first.
import('../dist/cli.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('slotrelay: not built yet; run `npm run build` in the repository first\n');
    process.exit(1);
  }
  throw e;
});
