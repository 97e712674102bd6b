/**
 * The hash slot of a key, as Redis Cluster computes it: CRC16/XMODEM of the key, or of its
 * `{hash tag}` when the first `{` has a non-empty `}` after it, mod 16384 (cluster spec, "Keys
 * hash tags"). For tests and tools that pick keys on one node; the proxy itself never hashes.
 */
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
