import type { ConnectionConfig, SlotrelayConfig } from '@slotrelay/core/internal';
import type { TlsChange } from '@slotrelay/transport-tls';
import { DEFAULT_MIDDLEWARE, type ResolvedConnection, resolveConnection } from './config.js';
import type { Listener } from './listener.js';

/** Fields of a connection whose change moves its mapping (a rescan; sessions of a moved node reconnect). */
const MAPPING_FIELDS = [
  'redisServers',
  'mappings',
  'clusterMembers',
  'instanceId',
  'instanceIdFrom',
  'mappingStrategy',
] as const;

/** The proxy's own credentials (discovery): a change is handed to the topology service and tried at once. */
const CREDENTIAL_FIELDS = ['redisUsername', 'redisPassword'] as const;

/**
 * Fields read when they are used, from the listener's current connection config: a change applies
 * to the next client accepted or the next dial (Redis's own CONFIG SET maxclients / tcp-keepalive
 * leave open connections alone too).
 */
const READ_ON_USE_FIELDS = [
  'maxWholeFrameBytes',
  'maxClients',
  'tcpKeepalive',
  'connectTimeoutMs',
  'timeout',
  'multiplex',
  'upstreamPool',
] as const;

/** What moving the running config to the next one does, worked out before anything changes. */
export interface ApplyPlan {
  readonly toStart: ResolvedConnection[];
  readonly toStop: Listener[];
  /** Mapping changed: `remap` (and credentials handed over first when they changed too). */
  readonly toRemap: Array<[Listener, ResolvedConnection]>;
  /** Only credentials changed (no mapping change): the topology takes them and rescans. */
  readonly toReauth: Array<[Listener, ResolvedConnection]>;
  /** Listeners that go on running with the new connection config (TLS paths for SIGHUP, read-on-use limits …). */
  readonly toUpdate: Array<[Listener, ResolvedConnection]>;
  /** Certificates read and checked, committed at the end. */
  readonly tlsChanges: Array<[Listener, TlsChange]>;
  readonly middlewareChanged: boolean;
  /** `middlewareConfig` changed: middleware are built anew (for new sessions) with the new settings. */
  readonly middlewareConfigChanged: boolean;
  /** One line per changed connection field that the actions above do not already name. */
  readonly notes: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const shown = (v: unknown) => (v === undefined ? 'default' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * Classify a validated config change against the running listeners. Reads and checks new
 * certificates (throws like the TLS loaders, naming the field and file); changes nothing.
 */
export function planApply(prev: SlotrelayConfig, next: SlotrelayConfig, listeners: Map<string, Listener>): ApplyPlan {
  const oldByName = new Map(prev.connections.map((c) => [c.name, c]));
  const plan: ApplyPlan = {
    toStart: [],
    toStop: [],
    toRemap: [],
    toReauth: [],
    toUpdate: [],
    tlsChanges: [],
    middlewareChanged: !same(next.middleware ?? DEFAULT_MIDDLEWARE, prev.middleware ?? DEFAULT_MIDDLEWARE),
    middlewareConfigChanged: !same(next.middlewareConfig ?? {}, prev.middlewareConfig ?? {}),
    notes: [],
  };
  for (const c of next.connections) {
    const old = oldByName.get(c.name);
    const running = listeners.get(c.name);
    const resolved = resolveConnection(c);
    if (!c.active) {
      if (running) plan.toStop.push(running);
      continue;
    }
    if (!running || !old) {
      plan.toStart.push(resolved);
      continue;
    }
    // A new address or switching TLS on/off needs a new server; new certificates do not.
    const rebind =
      !same(old.localAddress, c.localAddress) ||
      !same(old.localPort, c.localPort) ||
      !same(old.clientTls?.enabled === true, c.clientTls?.enabled === true) ||
      !same(old.serverTls?.enabled === true, c.serverTls?.enabled === true);
    if (rebind) {
      plan.toStop.push(running);
      plan.toStart.push(resolved);
      continue;
    }
    if (!same(old.clientTls, c.clientTls) && c.clientTls?.enabled)
      plan.tlsChanges.push([running, running.tls.server!.prepare(c.clientTls)]);
    if (!same(old.serverTls, c.serverTls) && c.serverTls?.enabled)
      plan.tlsChanges.push([running, running.tls.dialer!.prepare(c.serverTls)]);
    for (const k of READ_ON_USE_FIELDS)
      if (!same(old[k], c[k])) plan.notes.push(`${c.name}.${k}: ${shown(old[k])} -> ${shown(c[k])}`);
    const remap = MAPPING_FIELDS.some((k) => !same(old[k], c[k]));
    const reauth = CREDENTIAL_FIELDS.some((k) => old[k] !== c[k]);
    if (remap) plan.toRemap.push([running, resolved]);
    else if (reauth) plan.toReauth.push([running, resolved]);
    else plan.toUpdate.push([running, resolved]);
  }
  const nextNames = new Set(next.connections.map((c) => c.name));
  for (const [name, l] of listeners) if (!nextNames.has(name)) plan.toStop.push(l);
  return plan;
}

/** Whether the credentials of a connection differ between two configs. */
export function credentialsChanged(a: ConnectionConfig, b: ConnectionConfig): boolean {
  return CREDENTIAL_FIELDS.some((k) => a[k] !== b[k]);
}
