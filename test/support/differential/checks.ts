import type { RawClient } from '../raw-client.js';

/** The CLIENT LIST line (asked of the Redis node itself) of the connection named `name`, if any. */
export async function clientLine(admin: RawClient, name: string): Promise<string | undefined> {
  const list = String(await admin.call('CLIENT', 'LIST'));
  return list.split('\n').find((l) => l.includes(` name=${name} `));
}

/** Is the connection named `name` blocked in a command (flag `b`) on that node? */
export async function isBlocked(admin: RawClient, name: string): Promise<boolean> {
  const l = await clientLine(admin, name);
  return l !== undefined && /\bflags=\S*b/.test(l);
}

/** Is no connection named `name` left on that node? */
export async function isGone(admin: RawClient, name: string): Promise<boolean> {
  return (await clientLine(admin, name)) === undefined;
}
