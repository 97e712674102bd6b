/**
 * Coded errors. Every error slotrelay raises on purpose carries a stable `code` (`SR_ERR_*`) so logs
 * and tests can match on it, and a message that says what was expected and what was found.
 */
export class SlotrelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /**
     * What a data client is told (after `-ERR `) when it differs from the logged message, e.g. one
     * naming Redis addresses: clients of the fleet only ever learn proxy addresses.
     */
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

/** A failed dial to Redis: the log gets the node's address, the client only the reason. */
export function upstreamDialError(where: string, why: string): SlotrelayError {
  return new SlotrelayError(
    ErrorCode.Upstream,
    `cannot connect to Redis at ${where}: ${why}`,
    `slotrelay: cannot connect to Redis: ${why}`,
  );
}

/** What a data client is told of `err`, after `-ERR ` (see `SlotrelayError.clientText`). */
export function clientTextOf(err: unknown): string {
  // By shape: a middleware may throw a SlotrelayError of its own copy of core.
  const clientText = (err as { clientText?: unknown } | null)?.clientText;
  if (err instanceof Error && typeof clientText === 'string') return clientText;
  return `slotrelay: ${err instanceof Error ? err.message : String(err)}`;
}

/** The exact text Gallium Data's connector uses, with our product name. */
export const NOT_ENOUGH_MEMBERS = 'There are not enough slotrelay nodes to cover the entire cluster';
