/**
 * The structured logger every package writes to (pino-compatible: `log.info({ field }, 'message')`).
 * The host binds a pino instance; tests may use `silentLogger`.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/** DI token for `Logger`. */
export const Logger = Symbol.for('@slotrelay/core:Logger');

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
