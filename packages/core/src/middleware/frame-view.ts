import type { RespNode } from '../resp/decode.js';

/**
 * What a middleware may see and do with a frame (the read side of core's pooled `Frame`). Valid only
 * during the call that handed it out: copy what you keep.
 */
export interface FrameView {
  /** `COMPLETE` (whole: readable, replaceable), `STREAM` (a piece of a large frame) or `LOCAL` (a reply the proxy made). */
  readonly kind: number;
  /** The first byte (`RespType`); for a reply that starts with an attribute, the type of the value after it. */
  readonly type: number;
  /** Requests: the upper-case command name when some middleware watches it, else undefined. */
  readonly command: string | undefined;
  /** Requests: inside MULTI, the command's index in the EXEC array; -1 outside (and for MULTI, EXEC, DISCARD). */
  readonly txIndex: number;
  /** Requests: answered by the proxy, never sent to Redis. Skip such frames. */
  readonly dropped: boolean;
  /** Requests: Redis will reply (false after CLIENT REPLY OFF/SKIP). */
  readonly expectsReply: boolean;
  /** Length in bytes. */
  readonly length: number;
  /** The frame's bytes (a view, no copy). */
  bytes(): Buffer;
  /** Requests: the arguments, command name first, as views into the frame. `COMPLETE` only. */
  args(): Buffer[];
  /** Requests: the command name in upper case, decoded on first use. */
  commandName(): string;
  /** Replies: the decoded value. `COMPLETE` only. */
  decode(): RespNode;
  /** Replace the frame's bytes in the output; a promise holds back later output until it settles. `COMPLETE` only. */
  replace(bytes: Buffer | Promise<Buffer>): void;
}
