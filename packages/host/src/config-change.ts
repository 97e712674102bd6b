import { SECRET_FIELDS, type SlotrelayConfig } from '@slotrelay/core/internal';

/** Replace secret values (`SECRET_FIELDS`) anywhere in a config with `********`. */
export function maskSecrets<T>(value: T): T {
  if (Array.isArray(value)) value.forEach(maskSecrets);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_FIELDS.includes(k) && typeof v === 'string') (value as Record<string, unknown>)[k] = '********';
      else maskSecrets(v);
    }
  }
  return value;
}

/**
 * The process-wide settings a change touches, for the reply and the log: `log.level: info -> debug`,
 * `topologyCheckIntervalMs: 5000 -> 1000`, … Secrets are only said to have changed.
 */
export function settingChanges(prev: SlotrelayConfig, next: SlotrelayConfig): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === undefined ? 'unset' : String(v));
  const scalar = (name: string, a: unknown, b: unknown) => {
    if (a !== b) out.push(`${name}: ${show(a)} -> ${show(b)}`);
  };
  scalar('log.level', prev.log?.level, next.log?.level);
  scalar('topologyCheckIntervalMs', prev.topologyCheckIntervalMs, next.topologyCheckIntervalMs);
  scalar('shutdownGraceMs', prev.shutdownGraceMs, next.shutdownGraceMs);
  scalar('adminReadsRequireAuth', prev.adminReadsRequireAuth, next.adminReadsRequireAuth);
  if (prev.adminPassword !== next.adminPassword) {
    out.push(
      next.adminPassword === undefined
        ? 'adminPassword removed'
        : prev.adminPassword === undefined
          ? 'adminPassword set'
          : 'adminPassword changed',
    );
  }
  return out;
}

export function describePatchError(e: unknown): string {
  const err = e as { name?: string; message?: string; operation?: unknown; index?: number };
  const first = (err.message ?? String(e)).split('\n')[0]!;
  if (err.name === 'TEST_OPERATION_FAILED')
    return `test operation ${err.index ?? ''} failed: the config changed since you read it`.replace('  ', ' ');
  return `${first}${err.index !== undefined ? ` (operation ${err.index})` : ''}`;
}
