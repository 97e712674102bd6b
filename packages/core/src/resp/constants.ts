/** RESP type bytes (first byte of every frame or element). */
export const RespType = {
  SimpleString: 0x2b, // +
  Error: 0x2d, // -
  Integer: 0x3a, // :
  BulkString: 0x24, // $
  Array: 0x2a, // *
  Null: 0x5f, // _
  Double: 0x2c, // ,
  Boolean: 0x23, // #
  BigNumber: 0x28, // (
  Verbatim: 0x3d, // =
  BlobError: 0x21, // !
  Map: 0x25, // %
  Set: 0x7e, // ~
  Push: 0x3e, // >
  Attribute: 0x7c, // |
} as const;

/** Parser limits. Defaults follow Redis: 512 MB bulk (proto-max-bulk-len), 64 KB inline request. */
export interface RespLimits {
  /** Largest bulk string length accepted, in bytes. */
  maxBulkBytes: number;
  /** Largest element count of one aggregate (a request's argument count, a reply array's length). */
  maxElements: number;
  /** Largest inline request line, and largest count/length header line, in bytes. */
  maxInlineBytes: number;
  /** Deepest aggregate nesting accepted in a reply. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: Readonly<RespLimits> = Object.freeze({
  maxBulkBytes: 512 * 1024 * 1024,
  maxElements: 2147483647, // INT_MAX, as Redis 7
  maxInlineBytes: 64 * 1024,
  maxDepth: 256,
});

export const CR = 13;
export const LF = 10;
