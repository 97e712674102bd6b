/**
 * @slotrelay/local-cluster — starts a throwaway, real Redis Cluster on loopback ports for tests,
 * the demo and benchmarks.
 * @packageDocumentation
 */
export type { ClusterNode, LocalCluster, LocalClusterTlsOptions, StartClusterOptions } from './types.js';
export { startCluster } from './local-cluster.js';
export { redisServerPath } from './redis-binaries.js';
export { keySlot } from './key-slot.js';
export { freePorts } from './ports.js';
