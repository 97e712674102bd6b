/**
 * `@slotrelay/core/internal` — everything core has, for the host and slotrelay's own packages: the
 * scanners, `Session`, `Pipeline`, `CommandTable`, transports, the topology service. Not for
 * middleware authors: these names change without notice. The author API is the main entry, whose
 * every name is also exported here.
 */
export * from './errors.js';
export * from './logger.js';
export * from './config.js';
export { RespType, DEFAULT_LIMITS, type RespLimits } from './resp/constants.js';
export { ReplyScanner, NESTED_ERROR, HAS_ATTRIBUTE } from './resp/reply-scanner.js';
export { RequestScanner, NO_REPLY, INLINE } from './resp/request-scanner.js';
export { decodeReply, decodeMultibulkArgs, toPlain, type RespNode } from './resp/decode.js';
export { splitInlineArgs } from './resp/inline-args.js';
export { encodeReply, encodeError, encodeSimple, encodeCommand, node, type Protocol } from './resp/encode.js';
export { Frame, Batch, COMPLETE, STREAM, LOCAL } from './session/frame.js';
export { CommandTable } from './session/command-table.js';
export * from './session/stats.js';
export * from './listener-counters.js';
export { Session, type UpstreamConnector } from './session/session.js';
export { CLOSE_GRACE_MS } from './session/client-linger.js';
export { DEFAULT_MAX_WHOLE_FRAME_BYTES, type SessionOptions } from './session/session-options.js';
export { CORE_COMMANDS, firstWord } from './session/connection-state.js';
export { IDLE_SWEEP_MS } from './session/idle-sweeper.js';
export * from './middleware/contract.js';
export * from './middleware/define.js';
export type { FrameView } from './middleware/frame-view.js';
export { Pipeline, type PipelineHost, type SessionFlow } from './middleware/pipeline.js';
export { rewriteFrames, type RewriteFramesOptions } from './middleware/rewrite-frames.js';
export * from './topology/address.js';
export * from './topology/cluster-nodes.js';
export * from './topology/address-map.js';
export * from './topology/topology.js';
export * from './topology/topology-changes.js';
export * from './topology/upstream-health.js';
export * from './transport/tcp.js';
export { runCommands } from './transport/command.js';
export { UpstreamPool, DEFAULT_KEY, handshakeFor, type PoolKey } from './upstream/upstream-pool.js';
export type { SharedEnd } from './upstream/shared-upstream.js';
export { SHARING_COMMANDS, pinsByName } from './session/sharing.js';
