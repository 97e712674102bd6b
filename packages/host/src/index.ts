/**
 * @slotrelay/host — the `slotrelay` CLI and its building blocks: config loading and validation,
 * middleware loading, listeners, the fleet, logging, the demo.
 */
export {
  ConfigError,
  DEFAULT_MIDDLEWARE,
  configSchema,
  resolveConnection,
  validateConfig,
  type ResolvedConnection,
} from './config.js';
export { loadConfigFile, parseConfigText, resolveEnvRefs, isEnvRef, isYamlFile } from './config-load.js';
export { fillInstanceId, hostNameOf } from './instance-id.js';
export { validateCommand, type ValidateOptions } from './validate.js';
export { Fleet, type FleetOptions, type LogLevelName } from './fleet.js';
export { maskSecrets, settingChanges } from './config-change.js';
export { watchConfigFile } from './watch.js';
export { envRefInPatch, networkPatchRefusal, type PatchSource } from './patch-policy.js';
export { Listener, type ListenerParts } from './listener.js';
export { loadMiddleware, type LoadedMiddleware } from './middleware-loader.js';
export { createLogger, type LogLevel } from './logger.js';
export { startDemo, fleetConfig, type Demo } from './demo.js';
