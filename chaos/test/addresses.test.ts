import { describe, expect, it } from 'vitest';
import { addressesIn, foreignAddresses } from '../src/support/addresses.js';

const PROXIES = ['198.18.0.11:6391', '198.18.0.12:6391'];
const REDIS = '198.18.0.10';

// Each reply shape the partition scenario inspects, once naming only proxies and once leaking Redis.
const cases: { name: string; clean: unknown; leak: unknown; leaked: string }[] = [
  {
    name: 'CLUSTER NODES (text; the bus port after @ is not an address)',
    clean: 'a1 198.18.0.11:6391@28995 myself,master - 0 0 1 connected 0-16383\n',
    leak: 'a1 198.18.0.10:18995@28995 myself,master - 0 0 1 connected 0-16383\n',
    leaked: '198.18.0.10:18995',
  },
  {
    name: 'CLUSTER SLOTS (an IP followed by its port)',
    clean: [[0, 16383, ['198.18.0.11', 6391, 'a1', []]]],
    leak: [[0, 16383, ['198.18.0.11', 18995, 'a1', []]]],
    leaked: '198.18.0.11:18995',
  },
  {
    name: 'CLUSTER SHARDS, RESP2 key–value list',
    clean: [
      [
        'slots',
        [0, 16383],
        'nodes',
        [['id', 'a1', 'port', 6391, 'ip', '198.18.0.12', 'endpoint', '198.18.0.12', 'role', 'master']],
      ],
    ],
    leak: [
      [
        'slots',
        [0, 16383],
        'nodes',
        [['id', 'a1', 'port', 6391, 'ip', REDIS, 'endpoint', '198.18.0.12', 'role', 'master']],
      ],
    ],
    leaked: REDIS,
  },
  {
    name: 'CLUSTER SHARDS, RESP3 map as an object',
    clean: [{ slots: [0, 16383], nodes: [{ id: 'a1', port: 6391, ip: '198.18.0.12', endpoint: '198.18.0.12' }] }],
    leak: [{ slots: [0, 16383], nodes: [{ id: 'a1', 'tls-port': 16391, ip: '198.18.0.12', endpoint: '198.18.0.12' }] }],
    leaked: '198.18.0.12:16391',
  },
  {
    name: 'INFO replication of a replica (master_host / master_port)',
    clean: '# Replication\r\nrole:slave\r\nmaster_host:198.18.0.12\r\nmaster_port:6391\r\n',
    leak: '# Replication\r\nrole:slave\r\nmaster_host:198.18.0.12\r\nmaster_port:18000\r\n',
    leaked: '198.18.0.12:18000',
  },
  {
    name: 'INFO replication of a master (slave0:ip=…,port=…)',
    clean: 'role:master\r\nconnected_slaves:1\r\nslave0:ip=198.18.0.11,port=6391,state=online,offset=5,lag=0\r\n',
    leak: 'role:master\r\nconnected_slaves:1\r\nslave0:ip=198.18.0.11,port=18001,state=online,offset=5,lag=0\r\n',
    leaked: '198.18.0.11:18001',
  },
  {
    name: 'ROLE of a master (replicas as [ip, port-string, offset])',
    clean: ['master', 5, [['198.18.0.11', '6391', '5']]],
    leak: ['master', 5, [[REDIS, '18001', '5']]],
    leaked: `${REDIS}:18001`,
  },
  {
    name: 'ROLE of a replica',
    clean: ['slave', '198.18.0.12', 6391, 'connected', 5],
    leak: ['slave', '127.0.0.1', 6391, 'connected', 5],
    leaked: '127.0.0.1',
  },
  { name: 'MOVED', clean: 'MOVED 7596 198.18.0.12:6391', leak: `MOVED 7596 ${REDIS}:18000`, leaked: `${REDIS}:18000` },
];

describe('addresses named in replies', () => {
  for (const c of cases) {
    it(`${c.name}: proxy addresses pass, a Redis address is named`, () => {
      expect(foreignAddresses(c.clean, PROXIES)).toEqual([]);
      expect(foreignAddresses(c.leak, PROXIES)).toContain(c.leaked);
    });
  }

  it('finds every pair of a CLUSTER SLOTS reply, master and replica', () => {
    const named = addressesIn([[0, 5460, ['198.18.0.11', 6391, 'a'], ['198.18.0.12', 6391, 'b']]]);
    expect([...named.pairs].sort()).toEqual(PROXIES);
  });

  it('an empty or address-free reply names nothing', () => {
    expect(foreignAddresses('OK', PROXIES)).toEqual([]);
    expect(foreignAddresses([1, 2, ['x', 3]], PROXIES)).toEqual([]);
  });
});
