/**
 * Coded errors. Every error slotrelay raises on purpose carries a stable `code` (`SR_ERR_*`) so logs
 * and tests can match on it, and a message that says what was expected and what was found.
 */
export class SlotrelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** What a client is told, when it differs from the (more detailed) message that is logged. */
    readonly clientText?: string,
  ) {
    super(message);
    this.name = 'SlotrelayError';
  }
}

/**
 * A peer broke the RESP protocol. The session that saw it answers `-ERR Protocol error: <message>`
 * (the wording Redis uses) and closes; no other session is affected.
 */
export class ProtocolError extends SlotrelayError {
  constructor(message: string) {
    super('SR_ERR_PROTOCOL', message);
    this.name = 'ProtocolError';
  }
}

/** Error codes used across packages. */
export const ErrorCode = {
  Protocol: 'SR_ERR_PROTOCOL',
  Config: 'SR_ERR_CONFIG',
  Topology: 'SR_ERR_TOPOLOGY',
  NotEnoughMembers: 'SR_ERR_NOT_ENOUGH_MEMBERS',
  Upstream: 'SR_ERR_UPSTREAM',
  Middleware: 'SR_ERR_MIDDLEWARE',
} as const;

/** The exact text Gallium Data's connector uses, with our product name. */
export const NOT_ENOUGH_MEMBERS = 'There are not enough slotrelay nodes to cover the entire cluster';
