/**
 * @slotrelay/middleware-admin — `GALLIUMDATA …` / `SLOTRELAY …` admin commands answered by the
 * proxy itself: SCANCLUSTER, STATUSCLUSTER, CONFIG GET, CONFIG PATCH, AUTH, HELP.
 * Enable it with `"@slotrelay/middleware-admin"` in the config's `middleware` list.
 */
import { ContainerModule } from 'inversify';
import { Middleware } from '@slotrelay/core';
import { AdminMiddleware } from './admin-middleware.js';

export { AdminMiddleware } from './admin-middleware.js';
export {
  ADMIN_COMMAND_NAMES,
  ADMIN_SUBCOMMANDS,
  adminHelpLines,
  isAdminParseError,
  parseAdminCommand,
  type AdminAccess,
  type AdminAlias,
  type AdminCommand,
  type AdminParseError,
  type AdminSubcommandSpec,
} from './parse-admin-command.js';
export { formatStatusCluster, type StatusClusterInfo } from './format-status-cluster.js';
export {
  MASK,
  formatConfigJson,
  maskSecrets,
  opsForLog,
  parseConfigPatch,
  type ParsedPatch,
} from './config-commands.js';
export { adminAccessError, checkAdminPassword, passwordDigest, type AdminAccessInput } from './admin-auth.js';

/**
 * Binds `AdminMiddleware` under the `Middleware` token of a listener's container. It needs
 * `TopologyServiceToken`, `SlotrelayConfig` and `Logger`; `FleetControl` is optional (without it
 * CONFIG GET/PATCH answer `-ERR CONFIG is not available in this process`).
 */
export const adminModule = new ContainerModule(({ bind }) => {
  bind(Middleware).to(AdminMiddleware).inSingletonScope();
});

export default adminModule;
