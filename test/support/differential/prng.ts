/** mulberry32, the testkit's seeded PRNG (uniform in [0, 1)): the same seed gives the same sequence. */
export { prng as mulberry32 } from '@slotrelay/testkit';

/** A 32-bit hash of a string (FNV-1a), to derive one PRNG stream per client from the run's seed. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * The suite's seed: `DIFF_SEED` from the environment to replay a failure, else a fresh one. Every
 * failure message of the differential suite names it.
 */
export function suiteSeed(): number {
  const env = process.env.DIFF_SEED;
  if (env !== undefined && env !== '') return Number(env) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

/** `count` distinct split points in [1, length - 1], ascending, drawn from `rng`. */
export function randomSplits(rng: () => number, length: number, count: number): number[] {
  const points = new Set<number>();
  const want = Math.min(count, Math.max(0, length - 1));
  for (let i = 0; i < want * 20 && points.size < want; i++) points.add(1 + Math.floor(rng() * (length - 1)));
  return [...points].sort((a, b) => a - b);
}
