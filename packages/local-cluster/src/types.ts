/** One redis-server process started by {@link startCluster} or {@link LocalCluster.addNode}. */
export interface ClusterNode {
  /** Address the node listens on (the `host` option, e.g. `127.0.0.1` or `::1`). */
  readonly host: string;
  /**
   * The port clients connect to: the plaintext port, or the TLS port when the cluster is TLS-only
   * (`tls` given without `plainPort`). The cluster bus listens on `port + 10000` (TLS-only: `tlsPort + 10000`).
   */
  readonly port: number;
  /** The TLS port when the cluster runs with TLS; `undefined` otherwise. */
  readonly tlsPort?: number;
  /** PID of the redis-server child process (a new one after {@link LocalCluster.restartNode}). */
  pid: number;
  /** The node's private working directory (redis.conf, nodes.conf, redis.log). */
  readonly dir: string;
  /** The 40-hex-character cluster node ID (`CLUSTER MYID`). Refreshed by {@link LocalCluster.waitHealthy}. */
  id: string;
  /** The node's current role. Refreshed by {@link LocalCluster.waitHealthy} (e.g. after a failover). */
  role: 'master' | 'replica';
}

/** TLS settings for every node of a local cluster. Paths are PEM files. */
export interface LocalClusterTlsOptions {
  /** CA certificate that signed `certFile`; clients and nodes are verified against it. */
  caFile: string;
  /** Certificate each node serves (and presents as a client on the bus and for replication). */
  certFile: string;
  /** Private key of `certFile`. */
  keyFile: string;
  /** Keep a plaintext client port as well (default `false`: `port 0`, TLS only). */
  plainPort?: boolean;
}

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /** Number of masters (default 3). Slots are spread evenly over them. */
  masters?: number;
  /** Replicas per master (default 1). */
  replicasPerMaster?: number;
  /** IP address to bind, normally loopback (default `127.0.0.1`; `::1` works too). Hostnames are refused: CLUSTER MEET needs an IP. */
  host?: string;
  /** `cluster-node-timeout` in milliseconds (default 2000). */
  nodeTimeoutMs?: number;
  /**
   * Run the nodes with TLS: `tls-port`, `tls-cluster yes`, `tls-replication yes`,
   * `tls-auth-clients optional` and the given certificate files.
   */
  tls?: LocalClusterTlsOptions;
  /** Extra redis.conf lines appended after the generated ones (so they win), e.g. `'cluster-preferred-endpoint-type hostname'`. */
  extraConfig?: string[];
  /** Receives progress lines (ports, dirs, timings). Default: silent. */
  log?: (line: string) => void;
}

/** A running throwaway Redis Cluster. Call {@link LocalCluster.stop} when done. */
export interface LocalCluster {
  /** Every node started, in start order (nodes added by {@link LocalCluster.addNode} are appended). */
  readonly nodes: ClusterNode[];
  /**
   * `host:port` of every node, port being the client port ({@link ClusterNode.port}).
   * IPv6 hosts are bracketed (`[::1]:12000`), as in slotrelay config files.
   */
  readonly seeds: string[];
  /** Running nodes whose last known role is master (roles are refreshed by {@link LocalCluster.waitHealthy}). */
  masters(): ClusterNode[];
  /** Running nodes whose last known role is replica (roles are refreshed by {@link LocalCluster.waitHealthy}). */
  replicas(): ClusterNode[];
  /** Start an extra empty cluster-enabled node (not joined) — used by tests that grow the cluster. */
  addNode(): Promise<ClusterNode>;
  /**
   * Run redis-cli against a node (by object or index into {@link LocalCluster.nodes}) and return its stdout.
   * Throws with stderr on a non-zero exit. With TLS, redis-cli talks TLS to the node's `tlsPort`
   * (`--tls --cacert --cert --key` are added). Note that redis-cli exits 0 on an error *reply*;
   * it then prints the error text on stdout.
   */
  cli(node: ClusterNode | number, ...args: string[]): Promise<string>;
  /**
   * Poll until every running, joined node reports `cluster_state:ok`, every replica has
   * `master_link_status:up` and a replication offset above 0 (so it appears in CLUSTER SLOTS),
   * and all nodes agree on the known nodes and the slot map. Nodes whose process has exited and
   * nodes that have not joined any cluster (an {@link LocalCluster.addNode} node before
   * `--cluster add-node`) are skipped. Refreshes each node's `id` and `role`.
   * Throws after `timeoutMs` (default 30000) with what is still wrong and the nodes' log tails.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * Send `signal` (default `SIGKILL`, i.e. `kill -9`) to one node's redis-server, by PID, and wait
   * (bounded) until it has exited. Its dir, config, nodes.conf and ports are kept, so
   * {@link LocalCluster.restartNode} can bring it back. A node already down is left as it is.
   */
  killNode(node: ClusterNode | number, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Start a node stopped by {@link LocalCluster.killNode} again with its own redis.conf in its own
   * dir and on its own ports: it rejoins the cluster from its nodes.conf with the same node ID
   * (its data is gone: nothing is persisted). Resolves once it answers (not once the cluster is
   * healthy: use {@link LocalCluster.waitHealthy}); updates the node's `pid`. Throws if it is running.
   */
  restartNode(node: ClusterNode | number): Promise<ClusterNode>;
  /** Kill every redis-server this cluster started (by PID, SIGTERM then SIGKILL after a bound), remove the temp dirs. Idempotent. */
  stop(): Promise<void>;
}
