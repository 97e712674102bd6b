import { describe, expect, it } from 'vitest';
import { AddressMap, SlotrelayError, parseClusterNodes } from '@slotrelay/core/internal';
import { formatStatusCluster } from '@slotrelay/middleware-admin';
import {
  HELLO3_REPLY,
  MEMBERS,
  NODES,
  READ_AT,
  adminHarness,
  bulk,
  cmd,
  mapOf,
  statusText,
  stubTopology,
  verbatim,
} from './support/fixtures.js';

describe('GALLIUMDATA SCANCLUSTER', () => {
  it('rescans and answers +OK <n> nodes found in cluster, without touching Redis', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('GALLIUMDATA', 'SCANCLUSTER'));
    await h.settle();
    expect(h.toClient()).toBe('+OK 4 nodes found in cluster\r\n');
    expect(h.topology.reasons).toEqual(['admin SCANCLUSTER']);
    expect(h.toRedis()).toBe('');
  });

  it('answers -ERR with the not-enough-members text when the cluster outgrew clusterMembers', async () => {
    const grown = NODES + '\ne000000000000000000000000000000000000005 127.100.0.5:7004@17004 master - 0 0 5 connected';
    const topology = stubTopology({
      scan: async () =>
        new AddressMap(
          { mode: 'dynamic', members: MEMBERS, instanceId: 1 },
          { nodes: parseClusterNodes(grown), source: { host: '127.100.0.1', port: 7000 }, at: 0 },
        ),
    });
    const h = await adminHarness({ topology });
    h.clientSends(cmd('gallIUMdata', 'scancluster'));
    await h.settle();
    expect(h.toClient()).toBe(
      '-ERR There are not enough slotrelay nodes to cover the entire cluster: the cluster has 5 nodes, clusterMembers lists 4; at least 5 are needed\r\n',
    );
    expect(
      h.logLines.some(
        (l) =>
          l.level === 'warn' &&
          l.msg === 'admin write failed' &&
          (l.obj as { command?: string }).command === 'SCANCLUSTER',
      ),
    ).toBe(true);
  });

  it('answers -ERR when no Redis server can be read', async () => {
    const topology = stubTopology({
      scan: async () => {
        throw new SlotrelayError(
          'SR_ERR_TOPOLOGY',
          'cannot read the cluster topology from any Redis server (127.100.0.1:7000: ECONNREFUSED)',
        );
      },
    });
    const h = await adminHarness({ topology });
    h.clientSends(cmd('GALLIUMDATA', 'SCANCLUSTER'));
    await h.settle();
    expect(h.toClient()).toBe(
      '-ERR cannot read the cluster topology from any Redis server (127.100.0.1:7000: ECONNREFUSED)\r\n',
    );
  });
});

describe('GALLIUMDATA STATUSCLUSTER', () => {
  it('answers a bulk string in RESP2: one line per node, this proxy marked, addresses as Redis writes them', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient()).toBe(bulk(statusText(1)));
    expect(h.toRedis()).toBe('');
  });

  it('answers a verbatim string (=, txt) after a HELLO 3 round-trip', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('HELLO', '3'));
    h.redisSends(HELLO3_REPLY);
    expect(h.session.protocol).toBe(3);
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient()).toBe(HELLO3_REPLY + verbatim(statusText(1)));
    expect(h.toRedis()).toBe(cmd('HELLO', '3'));
  });

  it('accepts the inline form', async () => {
    const h = await adminHarness();
    h.clientSends('galliumdata statuscluster\r\n');
    expect(h.toClient()).toBe(bulk(statusText(1)));
    expect(h.toRedis()).toBe('');
  });

  it('accepts the SLOTRELAY alias, in RESP and inline form', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('SLOTRELAY', 'StatusCluster'), 'slotrelay STATUSCLUSTER\r\n');
    expect(h.toClient()).toBe(bulk(statusText(1)).repeat(2));
    expect(h.toRedis()).toBe('');
  });

  it('discovers the topology first when there is no map yet', async () => {
    const topology = stubTopology({ current: null });
    topology.scans = 0;
    const h = await adminHarness({ topology });
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    await h.settle();
    expect(topology.reasons).toEqual(['first connection']);
    expect(h.toClient()).toBe(bulk(statusText(1)));
  });

  it('answers -ERR when discovery fails', async () => {
    const topology = stubTopology({
      current: null,
      scan: async () => {
        throw new Error('cannot read the cluster topology from any Redis server (127.100.0.1:7000: timeout)');
      },
    });
    const h = await adminHarness({ topology });
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    await h.settle();
    expect(h.toClient()).toBe(
      '-ERR cannot read the cluster topology from any Redis server (127.100.0.1:7000: timeout)\r\n',
    );
  });
});

describe('formatStatusCluster', () => {
  it('labels a static mapping, keeps config order and marks the upstream even without topology', () => {
    const map = new AddressMap(
      {
        mode: 'static',
        entries: [
          { redis: { host: '127.100.0.1', port: 7000 }, proxy: { host: 'proxy-1', port: 6391 } },
          { redis: { host: 'fe80::5', port: 7001 }, proxy: { host: 'proxy-2', port: 6391 } },
        ],
        upstream: { host: 'fe80::5', port: 7001 },
      },
      null,
    );
    expect(formatStatusCluster(map, { scans: 3 })).toBe(
      [
        'OK Cluster mappings (static):',
        'Redis server 127.100.0.1:7000 is mapped to slotrelay proxy-1:6391 (not in the cluster topology)',
        'Redis server fe80::5:7001 is mapped to slotrelay proxy-2:6391 (not in the cluster topology) <- this proxy',
        'Topology not read (no Redis server answered; static mapping as configured); 3 scans since start',
      ].join('\n'),
    );
  });

  it('dates the last read of the topology, also one that found nothing new', () => {
    const lastRead = { source: { host: '127.100.0.3', port: 7002 }, at: READ_AT + 60_000 };
    const text = formatStatusCluster(mapOf(), { scans: 2, lastRead });
    expect(text.split('\n').at(-1)).toBe(
      `Topology read from 127.100.0.3:7002 at ${new Date(READ_AT + 60_000).toISOString()}; 2 scans since start`,
    );
  });

  it('says so when this proxy is a spare member with no node to front', () => {
    const spare = mapOf(NODES, {
      mode: 'dynamic',
      members: [...MEMBERS, { host: 'proxy.test', port: 6395 }],
      instanceId: 5,
    });
    const text = formatStatusCluster(spare, { scans: 1 });
    expect(text).not.toContain('<- this proxy');
    expect(text.split('\n')[5]).toBe(
      'This proxy (instance 5) fronts no Redis node: the cluster has 4 nodes, clusterMembers lists 5',
    );
    expect(text.split('\n')[6]).toBe(
      `Topology read from 127.100.0.1:7000 at ${new Date(READ_AT).toISOString()}; 1 scan since start`,
    );
  });
});
