import { keySlot } from '@slotrelay/local-cluster';

/** Inclusive slot ranges, as CLUSTER SLOTS gives them. */
export type SlotRanges = Array<[number, number]>;

/** True when `slot` lies in one of `ranges`. */
export function inSlots(slot: number, ranges: SlotRanges): boolean {
  return ranges.some(([lo, hi]) => slot >= lo && slot <= hi);
}

/** The first key `prefix:<n>` whose slot lies in `ranges`. */
export function keyIn(prefix: string, ranges: SlotRanges): string {
  for (let i = 0; i < 100_000; i++) if (inSlots(keySlot(`${prefix}:${i}`), ranges)) return `${prefix}:${i}`;
  throw new Error(`no key ${prefix}:<n> in slots ${JSON.stringify(ranges)}`);
}
