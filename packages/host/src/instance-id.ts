import os from 'node:os';
import type { ConnectionConfig } from '@slotrelay/core';

/**
 * Fill in a dynamic connection's instance ID when the file does not set one, in this order: the
 * environment (`SLOTRELAY_INSTANCE_ID`, then Gallium Data's `instance_id`), then `instanceIdFrom`:
 * `ordinal` takes the trailing `-N` of the host name — `HOSTNAME` when set (Kubernetes sets it to
 * the pod name), else `os.hostname()` — and uses N + 1, since StatefulSet ordinals start at 0 and
 * instance IDs at 1. Returns why, when it cannot (one line, without the `config: ` prefix).
 */
export function fillInstanceId(c: ConnectionConfig, at: string, env: NodeJS.ProcessEnv): string | undefined {
  if (c.mappings !== 'dynamic' || c.instanceId !== undefined) return undefined;
  const fromEnv = env.SLOTRELAY_INSTANCE_ID || env.instance_id || undefined;
  if (fromEnv !== undefined) {
    const n = Number(fromEnv);
    if (!/^\d+$/.test(fromEnv) || n < 1) {
      const hint = /-\d+$/.test(fromEnv)
        ? ` (for a StatefulSet pod name, leave the variable unset and set "instanceIdFrom": "ordinal")`
        : '';
      return `environment instance ID (SLOTRELAY_INSTANCE_ID / instance_id) should be a positive integer, instead got '${fromEnv}'${hint}`;
    }
    c.instanceId = n;
    return undefined;
  }
  if (c.instanceIdFrom !== 'ordinal') return undefined;
  const host = hostNameOf(env);
  const m = /-(\d+)$/.exec(host);
  if (!m) {
    return `${at}.instanceIdFrom is "ordinal" but the host name '${host}' (${env.HOSTNAME ? 'HOSTNAME' : 'os.hostname()'}) does not end in -N, as a StatefulSet pod's name does (<statefulset>-0, -1 …)`;
  }
  const id = Number(m[1]) + 1;
  if (id > c.clusterMembers.length) {
    return `${at}.instanceIdFrom: host name '${host}' gives instance ID ${id} (ordinal ${m[1]} + 1), but clusterMembers has only ${c.clusterMembers.length} entries; list every pod of the StatefulSet in clusterMembers`;
  }
  c.instanceId = id;
  return undefined;
}

/** The host name `instanceIdFrom: "ordinal"` reads. */
export function hostNameOf(env: NodeJS.ProcessEnv): string {
  return env.HOSTNAME || os.hostname();
}
