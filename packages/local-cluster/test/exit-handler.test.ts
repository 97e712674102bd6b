import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect, it } from 'vitest';
import { startCluster } from '../src/index.js';
import { killTrackedSync } from '../src/process-registry.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it("the process 'exit' handler SIGKILLs children that were never stopped and removes their dirs", async () => {
  const cluster = await startCluster({ masters: 1, replicasPerMaster: 0 });
  const [node] = cluster.nodes;
  expect(alive(node!.pid)).toBe(true);
  expect(process.listeners('exit')).toContain(killTrackedSync);

  killTrackedSync(); // what process.on('exit') runs when a test run is aborted

  const deadline = Date.now() + 5000;
  while (alive(node!.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(alive(node!.pid)).toBe(false);
  expect(existsSync(dirname(node!.dir))).toBe(false);
  await cluster.stop(); // still fine afterwards
}, 20_000);
