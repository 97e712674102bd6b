import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Container } from 'inversify';
import { Middleware } from '@slotrelay/core';
import { loadMiddleware } from '@slotrelay/host';
import { runMiddleware } from '@slotrelay/testkit';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let dir: string;

/**
 * A middleware in a folder of its own, as `npm install <folder>` leaves it: its own node_modules
 * with real copies (not links) of core and inversify, so its ContainerModule and its core are other
 * classes than the host's and an `instanceof` check would refuse it.
 */
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-own-copies-'));
  const mw = path.join(dir, 'shout');
  const nm = path.join(mw, 'node_modules');
  fs.mkdirSync(path.join(nm, '@slotrelay', 'core'), { recursive: true });
  for (const dep of ['inversify', '@inversifyjs', 'reflect-metadata'])
    fs.cpSync(path.join(root, 'node_modules', dep), path.join(nm, dep), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules', 'rxjs'), path.join(nm, 'rxjs'));
  for (const f of ['package.json', 'dist'])
    fs.cpSync(path.join(root, 'packages/core', f), path.join(nm, '@slotrelay', 'core', f), { recursive: true });
  fs.writeFileSync(path.join(mw, 'package.json'), JSON.stringify({ name: 'shout', type: 'module', main: 'index.js' }));
  fs.writeFileSync(
    path.join(mw, 'index.js'),
    `import { defineMiddleware } from '@slotrelay/core';
export default defineMiddleware({
  name: 'shout',
  commands: ['ECHO'],
  onRequest: () => true,
  onReply(frame) { frame.replace(Buffer.from('+' + frame.decode().data.toString().toUpperCase() + '\\r\\n')); },
});
`,
  );
  // Installed by name next to a config file, as `npm install <folder>` does it: a link to the folder.
  fs.mkdirSync(path.join(dir, 'deployment', 'node_modules'), { recursive: true });
  fs.symlinkSync(mw, path.join(dir, 'deployment', 'node_modules', 'shout'));
  fs.writeFileSync(path.join(dir, 'not-middleware.js'), 'export default function middleware() {}\n');
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a middleware package with its own copies of inversify and core', () => {
  it('is loaded by its folder path and works in the host container', async () => {
    const [loaded] = await loadMiddleware([path.join(dir, 'shout')], dir);
    const container = new Container();
    container.load(loaded!.module);
    const mw = container.getAll<Middleware>(Middleware);
    expect(mw.map((m) => m.name)).toEqual(['shout']);
    const r = await runMiddleware(mw, {
      clientSends: [['ECHO', 'hi'], ['PING']],
      redisReplies: ['$2\r\nhi\r\n', '+PONG\r\n'],
    });
    expect(r.clientReceived).toEqual(['HI', 'PONG']);
  });

  it('is loaded by package name when installed (linked) next to the config file', async () => {
    const [loaded] = await loadMiddleware(['shout'], path.join(dir, 'deployment'));
    const container = new Container();
    container.load(loaded!.module);
    const r = await runMiddleware(container.getAll<Middleware>(Middleware), {
      clientSends: [['ECHO', 'yo']],
      redisReplies: ['$2\r\nyo\r\n'],
    });
    expect(r.clientReceived).toEqual(['YO']);
  });

  it('a default export that is not a module is refused with what it is and what was expected', async () => {
    await expect(loadMiddleware(['./not-middleware.js'], dir)).rejects.toThrow(
      "config: middleware './not-middleware.js': the default export is a function, expected a ContainerModule (from defineMiddleware or inversify) as the default export",
    );
  });
});
