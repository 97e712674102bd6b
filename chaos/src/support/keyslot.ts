/** The hash slot of a key (CRC16/XMODEM of the key or its `{hash tag}`, mod 16384), as Redis computes it. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

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
