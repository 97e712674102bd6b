import {
  AddressMap,
  type FleetControl,
  type Logger,
  type MappingSpec,
  type SlotrelayConfig,
  type Topology,
  type TopologyService,
  encodeCommand,
  parseClusterNodes,
} from '@slotrelay/core/internal';
import { sessionHarness } from '@slotrelay/testkit';
import { AdminMiddleware } from '@slotrelay/middleware-admin';

/** Three masters (IPv4, bare IPv6, hostname-announced) and a replica; this proxy is instance 1. */
export const NODES = [
  'a000000000000000000000000000000000000001 127.100.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460',
  'b000000000000000000000000000000000000002 fe80::5:7001@17001 master - 0 0 2 connected 5461-10922',
  'c000000000000000000000000000000000000003 127.100.0.3:7002@17002,redis-3.svc master - 0 0 3 connected 10923-16383',
  'd000000000000000000000000000000000000004 127.100.0.4:7003@17003 slave a000000000000000000000000000000000000001 0 0 1 connected',
].join('\n');

export const READ_AT = Date.UTC(2025, 0, 2, 3, 4, 5);

/** Proxy members: the second one IPv6, to see it written bare. */
export const MEMBERS = [
  { host: 'proxy.test', port: 6391 },
  { host: 'fe80::99', port: 6392 },
  { host: 'proxy.test', port: 6393 },
  { host: 'proxy.test', port: 6394 },
];

export const DYNAMIC: MappingSpec = { mode: 'dynamic', members: MEMBERS, instanceId: 1 };

export function mapOf(text = NODES, spec: MappingSpec = DYNAMIC): AddressMap {
  const topology: Topology = {
    nodes: parseClusterNodes(text),
    source: { host: '127.100.0.1', port: 7000 },
    at: READ_AT,
  };
  return new AddressMap(spec, topology);
}

/** The STATUSCLUSTER text for `NODES` / `MEMBERS` after `scans` scans. */
export function statusText(scans: number): string {
  return [
    'OK Cluster mappings (dynamic):',
    'Redis server 127.100.0.1:7000 is mapped to slotrelay proxy.test:6391 (node a000000000000000000000000000000000000001, master) <- this proxy',
    'Redis server fe80::5:7001 is mapped to slotrelay fe80::99:6392 (node b000000000000000000000000000000000000002, master)',
    'Redis server 127.100.0.3:7002 is mapped to slotrelay proxy.test:6393 (node c000000000000000000000000000000000000003, master)',
    'Redis server 127.100.0.4:7003 is mapped to slotrelay proxy.test:6394 (node d000000000000000000000000000000000000004, replica)',
    `Topology read from 127.100.0.1:7000 at 2025-01-02T03:04:05.000Z; ${scans} ${scans === 1 ? 'scan' : 'scans'} since start`,
  ].join('\n');
}

/** A TopologyService stand-in. `rescan` runs `scan` (default: finds `NODES`); every call counts. */
export function stubTopology(o: { current?: AddressMap | null; scan?: () => Promise<AddressMap> } = {}) {
  const t = {
    current: o.current === undefined ? mapOf() : o.current,
    scans: 1,
    spec: DYNAMIC,
    seeds: [{ host: '127.100.0.1', port: 7000 }],
    reasons: [] as string[],
    rescan(reason: string): Promise<AddressMap> {
      t.reasons.push(reason);
      t.scans++;
      return (o.scan ?? (async () => mapOf()))().then((m) => (t.current = m));
    },
    ensure(): Promise<AddressMap> {
      return t.current ? Promise.resolve(t.current) : t.rescan('first connection');
    },
  };
  return t;
}

/** A FleetControl stand-in that records patches; `fail` makes `patch` reject with that message. */
export function stubControl(o: { config?: SlotrelayConfig; fail?: string; summary?: string } = {}) {
  const c = {
    patches: [] as unknown[],
    currentConfig: (): SlotrelayConfig => o.config ?? { connections: [], adminPassword: '********' },
    patch: async (ops: unknown): Promise<string> => {
      c.patches.push(ops);
      if (o.fail !== undefined) throw new Error(o.fail);
      return o.summary ?? 'log.level: info -> debug';
    },
  };
  return c;
}

/** A logger that keeps every call, to check what admin commands log. */
export function recordingLogger() {
  const lines: Array<{ level: string; obj: object; msg: string | undefined }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return { log, lines };
}

/** A client command as RESP bytes (latin1 text, to compare with `toClient()` / `toRedis()`). */
export const cmd = (...a: string[]) => encodeCommand(a).toString('latin1');

/** A bulk string / RESP3 verbatim string of `text`, as bytes on the wire. */
export const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
export const verbatim = (text: string) => `=${Buffer.byteLength(text) + 4}\r\ntxt:${text}\r\n`;

/** The reply Redis 7 gives to `HELLO 3`, cut short (the harness only needs a non-error). */
export const HELLO3_REPLY = '%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n';

export interface AdminSetup {
  topology?: ReturnType<typeof stubTopology>;
  config?: SlotrelayConfig;
  control?: ReturnType<typeof stubControl> | null;
  log?: Logger;
}

/** An AdminMiddleware over stubs, and a session harness running it. */
export async function adminHarness(o: AdminSetup = {}) {
  const topology = o.topology ?? stubTopology();
  const config = o.config ?? { connections: [] };
  const control = o.control === undefined ? stubControl() : o.control;
  const { log, lines } = recordingLogger();
  const mw = new AdminMiddleware(
    topology as unknown as TopologyService,
    config,
    o.log ?? log,
    (control ?? undefined) as FleetControl | undefined,
  );
  const h = await sessionHarness({ middleware: [mw] });
  return { ...h, mw, topology, config, control, logLines: lines };
}
