import { describe, expect, it } from 'vitest';
import { keySlot } from '@slotrelay/local-cluster';

// Values from the cluster spec and Redis's documentation of CLUSTER KEYSLOT; the serial
// cluster-reshard test also checks keySlot against a live CLUSTER KEYSLOT.
describe('keySlot', () => {
  it.each([
    ['123456789', 0x31c3], // the spec's CRC16 test vector (0x31C3 < 16384)
    ['foo', 12182],
    ['somekey', 11058],
  ])('%s hashes to slot %i', (key, slot) => {
    expect(keySlot(key)).toBe(slot);
  });

  it('hashes only a non-empty {hash tag}, the first one', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });
});
