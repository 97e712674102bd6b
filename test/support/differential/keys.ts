import { keySlot } from '@slotrelay/local-cluster';

export interface Master {
  host: string;
  port: number;
  id: string;
  slots: Array<[number, number]>;
}

export const inSlots = (slot: number, slots: Array<[number, number]>) =>
  slots.some(([lo, hi]) => slot >= lo && slot <= hi);

/** A hash tag `{…}` (with `prefix`) whose slot `master` owns, so every key with it lives there. */
export function tagOn(master: Master, prefix: string): string {
  for (let i = 0; i < 100_000; i++) {
    const tag = `{${prefix}.${i}}`;
    if (inSlots(keySlot(tag), master.slots)) return tag;
  }
  throw new Error(`no tag found for ${master.port}`);
}
