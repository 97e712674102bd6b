/**
 * Every command of Redis 7.0 that could name a Redis node, and what slotrelay does with its reply
 * (packages/middleware-cluster-cmds/README.md, "Every command that can name a node", is this table
 * in prose). test/e2e/no-node-address-reaches-clients.test.ts runs each `run` through the fleet, on
 * every proxy (masters and replicas), in RESP2 and RESP3, and finds no Redis endpoint in any reply.
 */
export type Decision = 'rewritten' | 'refused' | 'passed';

export interface AddressDecision {
  /** The command as sent; `MASTER_ID` / `NODE_ID` stand for a node ID of the cluster. */
  run: string[];
  decision: Decision;
  why: string;
  /** Not sent by the test (why): it would change the shared cluster under the other e2e files. */
  notRun?: string;
}

const cluster = (sub: string, decision: Decision, why: string, ...args: string[]): AddressDecision => ({
  run: ['CLUSTER', sub, ...args],
  decision,
  why,
});
const CHANGES = 'it changes the cluster whenever Redis accepts it';

export const ADDRESS_DECISIONS: AddressDecision[] = [
  // CLUSTER — every subcommand of `COMMAND DOCS cluster` (7.0.15). Those that change the cluster are
  // sent in a form Redis refuses (out-of-range slot, unknown node), which still shows the error text.
  cluster('NODES', 'rewritten', 'ip:port@cport[,hostname] per node'),
  cluster('SLOTS', 'rewritten', 'endpoint, port, metadata ip/hostname'),
  cluster('SHARDS', 'rewritten', 'ip, endpoint, hostname, port, tls-port'),
  cluster('REPLICAS', 'rewritten', 'NODES lines', 'MASTER_ID'),
  cluster('SLAVES', 'rewritten', 'NODES lines', 'MASTER_ID'),
  cluster('INFO', 'passed', 'counters and state only'),
  cluster('MYID', 'passed', 'a node ID'),
  cluster('LINKS', 'passed', 'node IDs, no addresses'),
  cluster('KEYSLOT', 'passed', 'a number', 'k'),
  cluster('COUNTKEYSINSLOT', 'passed', 'a number', '0'),
  cluster('GETKEYSINSLOT', 'passed', 'keys', '0', '10'),
  cluster('COUNT-FAILURE-REPORTS', 'passed', 'a number', 'NODE_ID'),
  cluster('HELP', 'passed', 'fixed text'),
  cluster('SAVECONFIG', 'passed', '+OK'),
  cluster('ADDSLOTS', 'passed', '+OK or an error without addresses', '99999'),
  cluster('ADDSLOTSRANGE', 'passed', '+OK or an error without addresses', '99999', '99999'),
  cluster('DELSLOTS', 'passed', '+OK or an error without addresses', '99999'),
  cluster('DELSLOTSRANGE', 'passed', '+OK or an error without addresses', '99999', '99999'),
  cluster('SETSLOT', 'passed', '+OK or an error without addresses', '99999', 'STABLE'),
  cluster('FORGET', 'passed', '+OK or an error naming a node ID', '0000000000000000000000000000000000000000'),
  cluster('REPLICATE', 'passed', '+OK or an error naming a node ID', '0000000000000000000000000000000000000000'),
  cluster('SET-CONFIG-EPOCH', 'passed', '+OK or an error', '-1'),
  cluster(
    'MEET',
    'passed',
    'arguments mapped back to Redis; +OK or an error naming what the client sent',
    '127.0.0.1',
    '0',
  ),
  cluster('FAILOVER', 'passed', '+OK or an error', 'BADOPTION'),
  cluster('RESET', 'passed', '+OK or an error', 'BADOPTION'),
  { ...cluster('FLUSHSLOTS', 'passed', '+OK or an error'), notRun: `${CHANGES} (an empty master loses its slots)` },
  { ...cluster('BUMPEPOCH', 'passed', 'BUMPED/STILL and an epoch'), notRun: CHANGES },
  // INFO — every section of 7.0, and the section groups.
  ...[
    'server',
    'clients',
    'memory',
    'persistence',
    'stats',
    'replication',
    'cpu',
    'modules',
    'errorstats',
    'cluster',
    'keyspace',
    'commandstats',
    'latencystats',
  ].map((s): AddressDecision => ({
    run: ['INFO', s],
    decision: s === 'server' || s === 'replication' ? 'rewritten' : 'passed',
    why:
      s === 'server'
        ? 'tcp_port becomes the proxy port'
        : s === 'replication'
          ? 'master_host/master_port, slaveN ip=/port='
          : 'no addresses',
  })),
  ...['default', 'all', 'everything'].map((s): AddressDecision => ({
    run: ['INFO', s],
    decision: 'rewritten',
    why: 'server and replication sections as above',
  })),
  { run: ['ROLE'], decision: 'rewritten', why: 'replica list [ip, port, offset]; a replica names its master' },
  // CLIENT — every subcommand.
  { run: ['CLIENT', 'PAUSE', '1'], decision: 'passed', why: '+OK', notRun: "it stops the shared cluster's clients" },
  { run: ['CLIENT', 'UNPAUSE'], decision: 'passed', why: '+OK', notRun: 'pairs with PAUSE' },
  {
    run: ['CLIENT', 'LIST'],
    decision: 'rewritten',
    why: "laddr= (the node's listening address) becomes the proxy's; addr= is the proxy's own socket",
  },
  { run: ['CLIENT', 'INFO'], decision: 'rewritten', why: 'as CLIENT LIST' },
  { run: ['CLIENT', 'ID'], decision: 'passed', why: 'a number' },
  { run: ['CLIENT', 'GETNAME'], decision: 'passed', why: 'the name' },
  { run: ['CLIENT', 'SETNAME', 'sr-table'], decision: 'passed', why: '+OK' },
  { run: ['CLIENT', 'GETREDIR'], decision: 'passed', why: 'a client ID' },
  { run: ['CLIENT', 'TRACKINGINFO'], decision: 'passed', why: 'flags, a client ID, prefixes' },
  { run: ['CLIENT', 'TRACKING', 'off'], decision: 'passed', why: '+OK' },
  { run: ['CLIENT', 'CACHING', 'yes'], decision: 'passed', why: 'an error without addresses' },
  { run: ['CLIENT', 'NO-EVICT', 'off'], decision: 'passed', why: '+OK' },
  { run: ['CLIENT', 'REPLY', 'ON'], decision: 'passed', why: '+OK' },
  { run: ['CLIENT', 'UNBLOCK', '999999'], decision: 'passed', why: 'a number' },
  { run: ['CLIENT', 'KILL', 'ID', '999999'], decision: 'passed', why: 'a number' },
  { run: ['CLIENT', 'HELP'], decision: 'passed', why: 'fixed text' },
  // Other introspection.
  {
    run: ['CONFIG', 'GET', '*'],
    decision: 'rewritten',
    why: 'port, tls-port, bind, cluster-announce-*, replica-announce-*, replicaof dropped',
  },
  { run: ['CONFIG', 'GET', '*port*'], decision: 'rewritten', why: 'as above' },
  { run: ['ACL', 'LOG'], decision: 'rewritten', why: 'client-info holds laddr=, rewritten as in CLIENT LIST' },
  { run: ['ACL', 'WHOAMI'], decision: 'passed', why: 'a user name' },
  { run: ['ACL', 'LIST'], decision: 'passed', why: 'rules' },
  { run: ['SLOWLOG', 'GET'], decision: 'passed', why: "client addr (the proxy's socket) and name; guarded" },
  { run: ['LATENCY', 'DOCTOR'], decision: 'passed', why: 'text about events; guarded' },
  { run: ['LATENCY', 'LATEST'], decision: 'passed', why: 'events and times; guarded' },
  { run: ['MEMORY', 'DOCTOR'], decision: 'passed', why: 'text; guarded' },
  { run: ['MEMORY', 'STATS'], decision: 'passed', why: 'numbers; guarded' },
  { run: ['MEMORY', 'MALLOC-STATS'], decision: 'passed', why: 'allocator text; guarded' },
  { run: ['DEBUG', 'HELP'], decision: 'passed', why: 'refused by Redis unless enable-debug-command; guarded' },
  { run: ['HELLO', '3'], decision: 'passed', why: 'server, version, proto, id, mode, role, modules' },
  { run: ['MONITOR'], decision: 'refused', why: 'its lines are out of band and, on a replica, name the master' },
];
