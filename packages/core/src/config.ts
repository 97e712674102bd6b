/** TLS toward Redis ("Use TLS with server"). Paths are files read at start and on config change. */
export interface ServerTlsConfig {
  enabled: boolean;
  /** Skip certificate verification (logged as a warning). */
  trustServerCertificate?: boolean;
  /** CA bundle to verify Redis with; the system store when absent. */
  ca?: string;
  /** Client certificate and key to present (Redis defaults to `tls-auth-clients yes`). */
  cert?: string;
  key?: string;
  /** SNI / name to verify; defaults to the host dialed. */
  servername?: string;
}

/** TLS toward clients ("Use TLS with clients", "Require TLS client authentication"). */
export interface ClientTlsConfig {
  enabled: boolean;
  cert?: string;
  key?: string;
  /** CA that client certificates must chain to (with `requireClientCert`). */
  ca?: string;
  requireClientCert?: boolean;
}

/** One listener: a proxy in front of one Redis node (Gallium Data's parameter names, camelCased). */
export interface ConnectionConfig {
  name: string;
  active: boolean;
  type: 'RedisCluster';
  /** Dynamic: discovery seeds. Static: the one node this proxy fronts. `host:port`, IPv6 as `[addr]:port`. */
  redisServers: string[];
  mappings: 'dynamic' | 'static';
  /** Dynamic: every proxy address, instance IDs 1…N in order. Static: `redisHost:port=proxyHost:port`. */
  clusterMembers: string[];
  /** 1-based; may come from the environment (`instance_id`, `SLOTRELAY_INSTANCE_ID`). */
  instanceId?: number;
  /** `ordinal`: the instance ID is N + 1 for a host name ending in `-N` (a StatefulSet pod); after `instanceId` and the environment. */
  instanceIdFrom?: 'ordinal';
  /** Dynamic mappings: order nodes by ID (`sorted`, default, as Gallium Data) or by `address`. */
  mappingStrategy?: 'sorted' | 'address';
  localAddress: string;
  localPort: number;
  serverTls?: ServerTlsConfig;
  clientTls?: ClientTlsConfig;
  /** Credentials for the proxy's own discovery connections, when Redis requires AUTH. */
  redisUsername?: string;
  redisPassword?: string;
  /**
   * The largest request a session holds whole (a command some middleware watches), in bytes; a
   * larger one gets `-ERR Protocol error` and its connection closes. Default 1048576 (1 MiB).
   */
  maxWholeFrameBytes?: number;
  /** Clients this listener serves at once (Redis `maxclients`, default 10000); the next gets Redis's error and is closed. */
  maxClients?: number;
  /** TCP keepalive on client and Redis sockets, seconds (Redis `tcp-keepalive`, default 300; 0: off). */
  tcpKeepalive?: number;
  /** Budget for connecting to a Redis node (TCP, and the TLS handshake), ms; default 3000. */
  connectTimeoutMs?: number;
  /**
   * Close a client idle for this many seconds, as Redis's `timeout` does (0, the default: never).
   * Subscribed and MONITOR clients and clients waiting on a reply (a blocking command) are spared.
   */
  timeout?: number;
  /**
   * Share upstream connections among sessions that hold no connection state (issue 16; default
   * true): a small pool per Redis node per process, keyed by protocol, ACL user and READONLY; a
   * session that makes its connection stateful (MULTI, blocking commands, pub/sub …) moves to a
   * connection of its own first. False: every client connection has its own upstream connection.
   */
  multiplex?: boolean;
  /** The shared pool: connections per key (default 2). */
  upstreamPool?: { size?: number };
}

/** The whole config file. */
export interface SlotrelayConfig {
  connections: ConnectionConfig[];
  /** Middleware packages in pipeline order; default: redirect, cluster-cmds, admin. */
  middleware?: string[];
  /** Enables admin writes (`GALLIUMDATA CONFIG PATCH`) for sessions that sent `GALLIUMDATA AUTH`. */
  adminPassword?: string;
  /** Also require `GALLIUMDATA AUTH` for admin reads. */
  adminReadsRequireAuth?: boolean;
  /**
   * Lets `GALLIUMDATA CONFIG PATCH` change `middleware`, add connections, and change a connection's
   * `redisServers`, `clusterMembers`, `localAddress` or `localPort`. Only the config file sets it;
   * no network patch can change it.
   */
  allowNetworkPatch?: boolean;
  /** Periodic CLUSTER NODES check, ms (0 disables). */
  topologyCheckIntervalMs?: number;
  /** How long shutdown waits for replies already due, ms. */
  shutdownGraceMs?: number;
  /** At SIGTERM, how long the process keeps serving, not ready, before it drains (ms, default 5000). */
  drainDelayMs?: number;
  /** The HTTP endpoint for `/metrics`, `/livez` and `/readyz`; off when absent. Address default `127.0.0.1`. */
  metrics?: { address?: string; port: number };
  /**
   * Settings of middleware made with `defineMiddleware`, keyed by the middleware's name (e.g.
   * `"mask-values": { "patterns": ["user:*:ssn"] }`); each middleware checks its own entry.
   */
  middlewareConfig?: Record<string, Record<string, unknown>>;
  log?: { level?: 'debug' | 'info' | 'warn' | 'error' | 'silent' };
}

/** DI tokens: the listener's connection config, the process config. */
export const ConnectionConfig = Symbol.for('@slotrelay/core:ConnectionConfig');
export const SlotrelayConfig = Symbol.for('@slotrelay/core:SlotrelayConfig');
/** DI token for the listener's `TopologyService`. */
export const TopologyServiceToken = Symbol.for('@slotrelay/core:TopologyService');
/** DI token for the listener's `ListenerInfo`. */
export const ListenerInfoToken = Symbol.for('@slotrelay/core:ListenerInfo');

/**
 * What admin commands may do to the running process (implemented by the host). All changes go
 * through `patch`: validated by the config schema, all or nothing.
 */
export interface FleetControl {
  /** The running config with secrets masked. */
  currentConfig(): SlotrelayConfig;
  /**
   * Apply an RFC 6902 JSON Patch sent over the network (an admin connection) to the running
   * config. Resolves with a one-line summary of what changed; rejects with an Error whose message
   * says why nothing changed (schema violation, a failing `test` op, a field only the config file
   * may change unless `allowNetworkPatch`, a port that cannot be bound …).
   */
  patch(ops: unknown): Promise<string>;
}

/** DI token for `FleetControl`. */
export const FleetControl = Symbol.for('@slotrelay/core:FleetControl');

/** Config fields whose values are masked in CONFIG GET and logs. */
export const SECRET_FIELDS: readonly string[] = ['adminPassword', 'redisPassword'];
