import type { RawClient } from './raw-client.js';

/** A key (with `prefix`) whose slot lies in `slots`, found by asking Redis CLUSTER KEYSLOT. */
export async function keyInSlots(client: RawClient, prefix: string, slots: Array<[number, number]>): Promise<string> {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}:${i}`;
    const slot = (await client.call('CLUSTER', 'KEYSLOT', key)) as number;
    if (slots.some(([lo, hi]) => slot >= lo && slot <= hi)) return key;
  }
  throw new Error('no key found');
}
