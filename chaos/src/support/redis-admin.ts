import { Redis } from 'ioredis';
import type { SlotRanges } from './keyslot.js';

/** One command to one Redis node or proxy (`host:port`) on a short-lived connection, bounded in time. */
export async function call(address: string, args: Array<string | number>, timeoutMs = 5000): Promise<unknown> {
  const at = address.lastIndexOf(':');
  const c = new Redis({
    host: address.slice(0, at).replace(/^\[|\]$/g, ''),
    port: Number(address.slice(at + 1)),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  });
  c.on('error', () => {});
  try {
    await c.connect();
    return await c.call(String(args[0]), ...args.slice(1).map(String));
  } finally {
    c.disconnect();
  }
}

/** Masters with their slot ranges, per CLUSTER SLOTS on `address`. */
export async function masterSlots(address: string): Promise<Map<string, { address: string; slots: SlotRanges }>> {
  const rows = (await call(address, ['CLUSTER', 'SLOTS'])) as Array<[number, number, [string, number, string]]>;
  const out = new Map<string, { address: string; slots: SlotRanges }>();
  for (const [lo, hi, [h, p, id]] of rows) {
    const m = out.get(id) ?? { address: `${h}:${p}`, slots: [] };
    m.slots.push([lo, hi]);
    out.set(id, m);
  }
  return out;
}

/** One field of `INFO <section>` on `address`, as a string ('' when absent). */
export async function infoField(address: string, section: string, field: string): Promise<string> {
  const text = String(await call(address, ['INFO', section]));
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

/** `cluster_state` of `address` ('ok' | 'fail'), or 'down' when it does not answer. */
export async function clusterState(address: string): Promise<string> {
  try {
    return /cluster_state:(\w+)/.exec(String(await call(address, ['CLUSTER', 'INFO'], 2000)))?.[1] ?? '?';
  } catch {
    return 'down';
  }
}

/** Poll `probe` every `intervalMs` until it returns true; false after `timeoutMs`. */
export async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
