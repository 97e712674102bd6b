#!/usr/bin/env node
/**
 * Replays inputs of a malformed-input run against a fresh cluster: sends the same bytes to a Redis
 * node and to a proxy in front of it, and prints both replies and how each connection ended.
 *
 *   node chaos/dist/replay-malformed.js --seed <seed> --batch <i>[,<i>…]          (fuzz phase, 40 inputs at most)
 *   node chaos/dist/replay-malformed.js --seed <sampleSeed> --sample <j>[,<j>…]   (comparison phase, 5 at most)
 *   node chaos/dist/replay-malformed.js --hex <bytes in hex>                       (any input)
 *
 * With `--minimize`, the inputs of each batch are dropped one at a time while the replies (or
 * how the connections end) still differ, and the smallest batch found is printed too.
 *
 * The fuzz keys are re-derived from the node's slots, so a replay on another cluster picks keys
 * of the same shape (`{fzN}a` … `{fzN}d`); their tag may differ from the original run's.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { startCluster } from '@slotrelay/local-cluster';
import { exchange, ownedKeys } from './support/raw-socket.js';
import { MeasuredProxy } from './support/measured-proxy.js';
import { normalizeReply, printable, respBatch } from './support/resp-fuzz.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seed = Number(opt('--seed') ?? 0);
const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
const node = cluster.masters()[0]!;
const proxy = await MeasuredProxy.start({ node: `${node.host}:${node.port}`, nodes: cluster.seeds });
const redis = new Redis({ host: node.host, port: node.port });
try {
  const [tag] = await ownedKeys(redis, 'fz', 1);
  const keys = ['a', 'b', 'c', 'd'].map((k) => `{${tag}}${k}`);
  const batches: Buffer[][] = [];
  const hex = opt('--hex');
  if (hex) batches.push([Buffer.from(hex, 'hex')]);
  for (const i of (opt('--batch') ?? '').split(',').filter(Boolean))
    batches.push(
      fc.sample(respBatch(keys, { megaLines: true, maxLength: 40, size: 'max' }), {
        seed: seed + Number(i),
        numRuns: 1,
      })[0]!,
    );
  for (const j of (opt('--sample') ?? '').split(',').filter(Boolean))
    batches.push(
      fc.sample(respBatch(keys, { megaLines: true, maxLength: 5 }), { seed: seed + Number(j), numRuns: 1 })[0]!,
    );
  const both = async (input: Buffer) => {
    const out: Array<{ name: string; reply: string; ended: string }> = [];
    for (const [name, host, port] of [
      ['Redis', node.host, node.port],
      ['proxy', proxy.host, proxy.port],
    ] as const) {
      await redis.del(...keys);
      const r = await exchange(host, port, input, 3000);
      out.push({ name, reply: normalizeReply(r.reply), ended: r.ended });
    }
    return out;
  };
  const differ = async (input: Buffer) => {
    const [d, p] = await both(input);
    return d!.reply !== p!.reply || (d!.ended === 'timeout') !== (p!.ended === 'timeout');
  };
  const show = async (input: Buffer) => {
    process.stdout.write(
      `input (hex ${input.length <= 512 ? input.toString('hex') : '…'}):\n  "${printable(input, 2000)}"\n`,
    );
    for (const r of await both(input)) process.stdout.write(`${r.name}: ${r.ended}\n  "${printable(r.reply, 2000)}"\n`);
  };
  for (const batch of batches) {
    await show(Buffer.concat(batch));
    if (!args.includes('--minimize') || !(await differ(Buffer.concat(batch)))) continue;
    let kept = batch;
    for (let k = kept.length - 1; k >= 0; k--) {
      const without = [...kept.slice(0, k), ...kept.slice(k + 1)];
      if (without.length > 0 && (await differ(Buffer.concat(without)))) kept = without;
    }
    process.stdout.write(`minimized to ${kept.length} of ${batch.length} inputs:\n`);
    await show(Buffer.concat(kept));
  }
} finally {
  redis.disconnect();
  await proxy.stop();
  await cluster.stop();
}
