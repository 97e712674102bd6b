import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { RawClient } from './support/raw-client.js';
import { keyInSlots } from './support/cluster.js';
import { freePorts } from './support/fleet.js';

const cli = path.resolve(__dirname, '../bin/slotrelay.js');

function waitForLines(p: ChildProcess, pattern: RegExp, count: number, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(
      () => reject(new Error(`fewer than ${count} lines matching ${pattern}; got: ${buf}`)),
      timeoutMs,
    );
    const on = (d: Buffer) => {
      buf += d.toString();
      if (buf.split('\n').filter((l) => pattern.test(l)).length >= count) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
  });
}

/** A proxy of the fleet whose node is a master, and a key it serves. */
async function masterProxyAndKey(ports: number[]): Promise<{ client: RawClient; key: string }> {
  for (const port of ports) {
    const c = await RawClient.connect(port);
    const nodes = String(await c.call('CLUSTER', 'NODES'));
    const self = nodes.split('\n').find((l) => l.includes('myself'))!;
    const ranges = self
      .split(' ')
      .slice(8)
      .filter((s) => /^\d/.test(s))
      .map((s) => s.split('-').map(Number) as [number, number]);
    if (self.includes('master') && ranges.length > 0)
      return {
        client: c,
        key: await keyInSlots(
          c,
          'sigterm',
          ranges.map(([a, b]) => [a, b ?? a]),
        ),
      };
    c.close();
  }
  throw new Error('no master proxy');
}

describe('slotrelay process lifecycle', () => {
  it('on SIGTERM stops accepting, delivers a reply in flight, and exits 0', async () => {
    const { seeds } = inject('cluster');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-sig-'));
    const ports = await freePorts(6);
    const members = ports.map((p) => `127.0.0.1:${p}`);
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        connections: ports.map((port, i) => ({
          name: `p${i + 1}`,
          type: 'RedisCluster',
          redisServers: seeds,
          mappings: 'dynamic',
          clusterMembers: members,
          instanceId: i + 1,
          localAddress: '127.0.0.1',
          localPort: port,
        })),
        shutdownGraceMs: 10_000,
        drainDelayMs: 0,
      }),
    );
    const p = spawn(process.execPath, [cli, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await waitForLines(p, /"msg":"listening"/, 6);
      const { client, key } = await masterProxyAndKey(ports);
      // A blocking call is in flight when the signal comes: shutdown waits for its reply.
      client.send(`*3\r\n$5\r\nBLPOP\r\n$${key.length}\r\n${key}\r\n$1\r\n1\r\n`);
      await new Promise((res) => setTimeout(res, 200));
      const exited = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
      p.kill('SIGTERM');
      const reply = await client.reply();
      expect(reply.type).toBe(0x2a); // *-1: BLPOP timed out normally, not an error
      expect(reply.items).toBeNull();
      expect(await exited).toBe(0);
      await client.closedPromise;
    } finally {
      p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on SIGTERM /readyz answers 503 at once while the listener still serves, for drainDelayMs', async () => {
    const { seeds } = inject('cluster');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slotrelay-drain-'));
    const [port, metricsPort] = await freePorts(2);
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        connections: [
          {
            name: 'p1',
            type: 'RedisCluster',
            redisServers: seeds,
            mappings: 'dynamic',
            // One member per node of the shared cluster; only the first runs here.
            clusterMembers: [port, 1, 2, 3, 4, 5].map((p) => `127.0.0.1:${p}`),
            instanceId: 1,
            localAddress: '127.0.0.1',
            localPort: port,
          },
        ],
        metrics: { address: '127.0.0.1', port: metricsPort },
        // Longer than the test: the process is killed once the drain has been seen.
        drainDelayMs: 60_000,
      }),
    );
    const p = spawn(process.execPath, [cli, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const readyz = async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status;
    const poll = async (what: string, ok: () => Promise<boolean>) => {
      for (let i = 0; i < 200; i++) {
        if (await ok().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    try {
      await waitForLines(p, /"msg":"metrics and health endpoint listening"/, 1);
      await poll('/readyz 200', async () => (await readyz()) === 200);
      p.kill('SIGTERM');
      await poll('/readyz 503', async () => (await readyz()) === 503);
      const c = await RawClient.connect(port!);
      try {
        expect(await c.call('PING')).toBe('PONG');
      } finally {
        c.close();
      }
      expect(p.exitCode).toBeNull();
    } finally {
      p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
