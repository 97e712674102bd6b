/**
 * Ways to cut a byte string into socket chunks, for "every case whole, byte by byte and split at
 * every boundary" tests. Each yielded value is a list of chunks that concatenate to `bytes`.
 */
export function* chunkings(bytes: Buffer): Generator<{ label: string; chunks: Buffer[] }> {
  yield { label: 'whole', chunks: [bytes] };
  if (bytes.length > 1) {
    yield { label: 'byte by byte', chunks: [...bytes].map((b) => Buffer.from([b])) };
    for (let i = 1; i < bytes.length; i++) {
      yield { label: `split at ${i}`, chunks: [bytes.subarray(0, i), bytes.subarray(i)] };
    }
  }
}

/** Cut `bytes` at random points (deterministic for a given `seed`). */
export function randomChunks(bytes: Buffer, seed: number, maxChunk = 64): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * maxChunk);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
