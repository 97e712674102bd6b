import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type LocalCluster } from '../src/index.js';

type SlotEntry = [number, number, ...[string, number, string, unknown][]];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A throwaway CA and a server/client certificate for localhost, 127.0.0.1 and ::1. */
function makeCerts(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const f = (name: string): string => join(dir, name);
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=slotrelay-test-ca',
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('redis.key'),
    '-out',
    f('redis.csr'),
    '-subj',
    '/CN=localhost',
  );
  writeFileSync(
    f('ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  run(
    'x509',
    '-req',
    '-in',
    f('redis.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('redis.crt'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  );
  return { caFile: f('ca.crt'), certFile: f('redis.crt'), keyFile: f('redis.key') };
}

describe('startCluster options', () => {
  it('rejects bad sizes before starting anything', async () => {
    await expect(startCluster({ masters: 0 })).rejects.toThrow(/masters must be an integer >= 1/);
    await expect(startCluster({ replicasPerMaster: -1 })).rejects.toThrow(/replicasPerMaster/);
    await expect(startCluster({ host: 'localhost' })).rejects.toThrow(/host must be an IP address/);
    await expect(startCluster({ tls: { caFile: '/nonexistent/ca.crt', certFile: 'x', keyFile: 'y' } })).rejects.toThrow(
      /cannot read tls.caFile/,
    );
  });

  it('reports a node that cannot start with the tail of its output', async () => {
    await expect(
      startCluster({ masters: 1, replicasPerMaster: 0, extraConfig: ['no-such-directive yes'] }),
    ).rejects.toThrow(/exited at start[\s\S]*FATAL CONFIG FILE ERROR[\s\S]*no-such-directive/);
  });

  it('runs a 1-master, 1-replica cluster on ::1 (joined by hand: redis-cli wants 3 masters)', async () => {
    const lines: string[] = [];
    const cluster = await startCluster({ host: '::1', masters: 1, replicasPerMaster: 1, log: (l) => lines.push(l) });
    try {
      expect(cluster.nodes.map((n) => n.role)).toEqual(['master', 'replica']);
      expect(cluster.seeds).toEqual(cluster.nodes.map((n) => `[::1]:${n.port}`));
      const slots = JSON.parse(await cluster.cli(1, '--json', 'CLUSTER', 'SLOTS')) as SlotEntry[];
      expect(slots).toHaveLength(1);
      const [start, end, ...servers] = slots[0]!;
      expect([start, end]).toEqual([0, 16383]);
      expect(servers.map((n) => n[2])).toEqual(cluster.nodes.map((n) => n.id));
      expect(lines.some((l) => l.includes('ready after'))).toBe(true);

      // A timeout names what is wrong and shows the nodes' log tails.
      await cluster.cli(0, 'CLUSTER', 'DELSLOTSRANGE', '0', '9');
      const err = await cluster.waitHealthy(300).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/Timed out after 300 ms waiting for the cluster to become healthy/);
      expect(err?.message).toMatch(/covers 16374 of 16384 slots/);
      expect(err?.message).toContain(`${cluster.nodes[0]!.dir}/redis.log`);
    } finally {
      await cluster.stop();
    }
    for (const n of cluster.nodes) expect(alive(n.pid)).toBe(false);
  }, 30_000);

  it('passes extraConfig lines to every node', async () => {
    const cluster = await startCluster({
      masters: 3,
      replicasPerMaster: 0,
      extraConfig: ['cluster-announce-hostname localhost', 'cluster-preferred-endpoint-type hostname'],
    });
    try {
      const slots = JSON.parse(await cluster.cli(0, '--json', 'CLUSTER', 'SLOTS')) as SlotEntry[];
      expect(new Set(slots.flatMap(([, , ...ns]) => ns.map((n) => n[0])))).toEqual(new Set(['localhost']));
      expect(await cluster.cli(0, 'CLUSTER', 'NODES')).toContain(',localhost');
    } finally {
      await cluster.stop();
    }
  }, 30_000);
});

describe.skipIf(!hasOpenssl())('startCluster with TLS', () => {
  let certDir: string;
  let certs: { caFile: string; certFile: string; keyFile: string };
  let cluster: LocalCluster | undefined;

  beforeAll(() => {
    certDir = mkdtempSync(join(tmpdir(), 'slotrelay-certs-'));
    certs = makeCerts(certDir);
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(certDir, { recursive: true, force: true });
  }, 30_000);

  it('TLS only: client port is the tls-port, bus and replication over TLS', async () => {
    cluster = await startCluster({ tls: certs });
    expect(cluster.nodes).toHaveLength(6);
    for (const n of cluster.nodes) {
      expect(n.tlsPort).toBe(n.port);
      expect(n.port + 10000).toBeLessThan(32768);
    }
    expect(cluster.replicas()).toHaveLength(3);
    const config = await cluster.cli(0, 'CONFIG', 'GET', 'port');
    expect(config.trim().split('\n')[1]).toBe('0');
    const slots = JSON.parse(await cluster.cli(0, '--json', 'CLUSTER', 'SLOTS')) as SlotEntry[];
    const ports = new Set(slots.flatMap(([, , ...ns]) => ns.map((n) => n[1])));
    expect(ports).toEqual(new Set(cluster.nodes.map((n) => n.tlsPort)));
    await cluster.cli(0, '-c', 'SET', 'tls-key', 'v');
    expect((await cluster.cli(4, '-c', 'GET', 'tls-key')).trim()).toBe('v');
    const added = await cluster.addNode();
    expect(added.tlsPort).toBe(added.port);
    expect((await cluster.cli(added, 'PING')).trim()).toBe('PONG');
    await cluster.stop();
    for (const n of cluster.nodes) expect(alive(n.pid)).toBe(false);
  }, 40_000);

  it('TLS with plainPort keeps a plaintext client port', async () => {
    const c = await startCluster({ masters: 3, replicasPerMaster: 0, tls: { ...certs, plainPort: true } });
    try {
      for (const n of c.nodes) {
        expect(n.tlsPort).toBeDefined();
        expect(n.port).not.toBe(n.tlsPort);
        expect(c.seeds).toContain(`127.0.0.1:${n.port}`);
      }
      const plain = execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(c.nodes[0]!.port), 'PING'], {
        encoding: 'utf8',
      });
      expect(plain.trim()).toBe('PONG');
      expect((await c.cli(0, 'PING')).trim()).toBe('PONG');
    } finally {
      await c.stop();
    }
    expect(existsSync(c.nodes[0]!.dir)).toBe(false);
  }, 30_000);
});
