/**
 * @slotrelay/core — what a middleware author (and the host) needs to know: the middleware contract
 * and `defineMiddleware`, the read side of frames and batches, `SessionContext`, the RESP encoders,
 * coded errors, the DI tokens and the topology read API. Everything else (scanners, `Session`,
 * `Pipeline`, transports) is behind `@slotrelay/core/internal`, for slotrelay's own packages.
 */
export { SlotrelayError, ErrorCode } from './errors.js';
export { Logger, silentLogger } from './logger.js';
export {
  ConnectionConfig,
  SlotrelayConfig,
  ListenerInfoToken,
  TopologyServiceToken,
  type ServerTlsConfig,
  type ClientTlsConfig,
} from './config.js';
export { RespType } from './resp/constants.js';
export { decodeReply, toPlain, type RespNode } from './resp/decode.js';
export { encodeReply, encodeError, encodeSimple, encodeCommand, node, type Protocol } from './resp/encode.js';
export { COMPLETE, STREAM, LOCAL, type Batch } from './session/frame.js';
export type { FrameView as Frame } from './middleware/frame-view.js';
export * from './middleware/contract.js';
export { rewriteFrames, type RewriteFramesOptions } from './middleware/rewrite-frames.js';
export * from './middleware/define.js';
export { parseHostPort, wireAddress, type HostPort } from './topology/address.js';
export type { ClusterNode } from './topology/cluster-nodes.js';
export type { AddressMap, ProxyAddress, MappingRow, MappingSpec } from './topology/address-map.js';
export type { Topology, TopologyService } from './topology/topology.js';
