#!/usr/bin/env node
// The installed command. The CLI itself is compiled TypeScript (dist/cli.js).
import fs from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
// Only a checkout of the repository (it has tsconfig.json; a package has not) can be unbuilt.
if (!fs.existsSync(cli) && fs.existsSync(new URL('../tsconfig.json', import.meta.url))) {
  process.stderr.write('slotrelay: not built yet; run `npm run build` in the repository first\n');
  process.exit(1);
}
await import(cli.href);
