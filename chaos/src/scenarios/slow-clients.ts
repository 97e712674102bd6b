import type net from 'node:net';
import { Redis } from 'ioredis';
import { Canary } from '../support/canary.js';
import { MB, connectRaw, ownedKeys, pollUntil, serverEndsOpen, sleep } from '../support/raw-socket.js';
import { sampleMemory, withMeasuredProxy } from '../support/measured-proxy.js';
import { type Check, type Outcome, type Scenario, type ScenarioContext, check } from '../types.js';

/** Growth of the proxy's memory allowed while slow clients hold hundreds of MB of replies in Redis. */
const RSS_GROWTH_MAX = 64 * MB;
const ARRAY_BUFFERS_GROWTH_MAX = 16 * MB;
/** With `client-output-buffer-limit normal 8mb 4mb 10`, the slow client's connection must be closed this soon. */
const CUT_OFF_MS = 5000;
/** A well-behaved client's command slower than this counts as an error. */
const CANARY_TIMEOUT_MS = 30_000;

/**
 * Slow clients against one proxy and directly: one pipelines GETs of a 1 MB value and never reads,
 * one sends a huge bulk header and trickles its bytes, while well-behaved clients verify their own
 * data. Then Redis's own output buffer limit for normal clients must cut the slow reader off
 * through the proxy as it does directly.
 */
export const slowClients: Scenario = {
  name: 'slow-clients',
  title:
    'a client that never reads 1 MB replies and one trickling a huge bulk: proxy memory bounded, other clients unaffected, Redis output limits still apply',
  async run(ctx: ScenarioContext): Promise<Outcome> {
    const figures: Outcome['figures'] = {};
    const checks: Check[] = [];
    const gets = ctx.quick ? 100 : 600;
    const seconds = ctx.quick ? 3 : 15;
    return withMeasuredProxy(async ({ node, proxy, redis, atEnd }) => {
      atEnd(() => redis.config('SET', 'client-output-buffer-limit', 'normal 0 0 0'));
      const [big, trickleKey, ...canaryKeys] = await ownedKeys(redis, 'chaos:slow:', 6);
      await redis.set(big!, Buffer.alloc(MB, 'x'));
      figures.getsRequested = gets;
      figures.repliesRequestedMB = gets;

      for (const target of ['proxy', 'direct'] as const) {
        const port = target === 'proxy' ? proxy.port : node.port;
        const host = target === 'proxy' ? proxy.host : node.host;
        await sleep(200);
        const before = target === 'proxy' ? await proxy.memory(true) : null;
        const rssBefore = target === 'proxy' ? proxy.rss() : 0;
        const sampler = target === 'proxy' ? sampleMemory(proxy) : null;
        // Redis 7.0 itself stalls for seconds with hundreds of MB pending for one reader (measured
        // directly: ~9 s at 600 MB), so a stall counts as latency here, not as an error.
        const canary = new Canary(host, port, canaryKeys, CANARY_TIMEOUT_MS);
        const redisMemBefore = await usedMemory(redis);

        // (a) pipelines GETs of the 1 MB value and never reads a byte.
        const reader = await connectRaw(host, port);
        reader.pause();
        reader.on('error', () => {});
        reader.write(Buffer.from(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(big!)}\r\n${big}\r\n`.repeat(gets)));
        // (b) the issue's huge bulk header (beyond proto-max-bulk-len), and one within the limit, both trickled.
        const huge = await trickler(host, port, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000000\r\n');
        const within = await trickler(
          host,
          port,
          `*3\r\n$3\r\nSET\r\n$${Buffer.byteLength(trickleKey!)}\r\n${trickleKey}\r\n$500000000\r\n`,
        );

        await sleep(seconds * 1000);
        const redisMemDuring = await usedMemory(redis);
        const peaks = await sampler?.stop();
        const c = await canary.stop();
        huge.stop();
        within.stop();
        const key = target;
        figures[`${key}.redisUsedMemoryGrowthMB`] = round((redisMemDuring - redisMemBefore) / MB);
        figures[`${key}.trickledBytes`] = within.sent();
        figures[`${key}.hugeBulkReply`] = huge.reply().trim() || '(none)';
        figures[`${key}.hugeBulkClosedByServer`] = huge.closed();
        figures[`${key}.withinLimitTricklerOpen`] = !within.closed();
        figures[`${key}.canary.verified`] = c.verified;
        figures[`${key}.canary.wrong`] = c.wrong;
        figures[`${key}.canary.errors`] = c.errors;
        // Noisy on a shared machine; a figure to watch, not a criterion.
        figures[`${key}.canary.verifiedPerSecond`] = Math.round(c.verified / seconds);
        figures[`${key}.canary.slowestPairMs`] = c.maxPairMs;
        checks.push(
          check(
            `${key}: other clients unaffected (0 errors, 0 wrong, all verified)`,
            c.errors === 0 && c.wrong === 0 && c.verified > 0,
            `${c.verified} verified, ${c.wrong} wrong, ${c.errors} errors${c.samples.length ? `: ${c.samples.join('; ')}` : ''}`,
          ),
        );
        if (target === 'proxy' && before && peaks) {
          const rssGrowth = peaks.rss - rssBefore;
          const abGrowth = peaks.arrayBuffers - before.arrayBuffers;
          Object.assign(figures, {
            'proxy.rssBeforeMB': round(rssBefore / MB),
            'proxy.rssPeakMB': round(peaks.rss / MB),
            'proxy.rssGrowthMB': round(rssGrowth / MB),
            'proxy.arrayBuffersBeforeMB': round(before.arrayBuffers / MB),
            'proxy.arrayBuffersPeakMB': round(peaks.arrayBuffers / MB),
            'proxy.heapUsedPeakMB': round(peaks.heapUsed / MB),
            'proxy.memorySamples': peaks.samples,
          });
          checks.push(
            check(
              `proxy: rss growth ≤ ${RSS_GROWTH_MAX / MB} MB while the slow reader asked for ${gets} MB`,
              rssGrowth <= RSS_GROWTH_MAX,
              `${round(rssBefore / MB)} → peak ${round(peaks.rss / MB)} MB (+${round(rssGrowth / MB)})`,
            ),
          );
          checks.push(
            check(
              `proxy: arrayBuffers growth ≤ ${ARRAY_BUFFERS_GROWTH_MAX / MB} MB`,
              abGrowth <= ARRAY_BUFFERS_GROWTH_MAX,
              `${round(before.arrayBuffers / MB)} → peak ${round(peaks.arrayBuffers / MB)} MB`,
            ),
          );
        }
        reader.destroy();
        if (target === 'proxy' && !ctx.quick)
          checks.push(check('the slow reader asked for ≥ 500 MB of replies', gets >= 500, `${gets} × 1 MB`));
        ctx.log(
          `${key}: canary ${c.verified}/${c.wrong}/${c.errors}, huge bulk → ${JSON.stringify(huge.reply().trim())}, redis +${figures[`${key}.redisUsedMemoryGrowthMB`]} MB`,
        );
      }
      checks.push(
        check(
          'huge bulk header: the proxy answers as Redis does',
          figures['proxy.hugeBulkReply'] === figures['direct.hugeBulkReply'] &&
            figures['proxy.hugeBulkClosedByServer'] === figures['direct.hugeBulkClosedByServer'],
          `proxy ${JSON.stringify(figures['proxy.hugeBulkReply'])} closed=${figures['proxy.hugeBulkClosedByServer']}, direct ${JSON.stringify(figures['direct.hugeBulkReply'])} closed=${figures['direct.hugeBulkClosedByServer']}`,
        ),
      );
      checks.push(
        check(
          'a bulk within the limit, trickled, keeps its connection (proxy as directly)',
          figures['proxy.withinLimitTricklerOpen'] === true && figures['direct.withinLimitTricklerOpen'] === true,
          `proxy ${figures['proxy.withinLimitTricklerOpen']}, direct ${figures['direct.withinLimitTricklerOpen']}`,
        ),
      );

      // (c) an operator's output buffer limit for normal clients: Redis cuts off the slow reader (through the proxy: its upstream).
      await redis.config('SET', 'client-output-buffer-limit', 'normal 8mb 4mb 10');
      for (const target of ['proxy', 'direct'] as const) {
        const port = target === 'proxy' ? proxy.port : node.port;
        const reader = await connectRaw(node.host, port);
        reader.pause();
        reader.on('error', () => {});
        reader.write(Buffer.from(`*2\r\n$3\r\nGET\r\n$${Buffer.byteLength(big!)}\r\n${big}\r\n`.repeat(64)));
        const ms = await pollUntil(() => serverEndsOpen(port, new Set([reader.localPort!])) === 0, CUT_OFF_MS, 20);
        reader.destroy();
        figures[`${target}.outputLimit.closedAfterMs`] = ms;
        checks.push(
          check(
            `${target}: with client-output-buffer-limit normal 8mb 4mb 10, the slow reader is closed within ${CUT_OFF_MS} ms`,
            ms >= 0,
            ms >= 0 ? `${ms} ms` : 'still open',
          ),
        );
      }
      checks.push(
        check(
          'the proxy process is alive',
          proxy.alive(),
          proxy.alive() ? `pid ${proxy.pid}` : `exited ${JSON.stringify(proxy.exit)}`,
        ),
      );
      return { figures, checks };
    });
  },
};

/** A connection that sends `header`, then one byte of the bulk every 10 ms, reading what comes back. */
async function trickler(
  host: string,
  port: number,
  header: string,
): Promise<{ stop(): void; sent(): number; reply(): string; closed(): boolean }> {
  const s: net.Socket = await connectRaw(host, port);
  let reply = '';
  let closed = false;
  let sent = 0;
  s.on('data', (b) => {
    reply += b.toString('latin1');
  });
  s.on('error', () => {});
  s.on('close', () => {
    closed = true;
  });
  s.write(header);
  const t = setInterval(() => {
    if (closed) return;
    s.write('x');
    sent++;
  }, 10);
  return {
    stop() {
      clearInterval(t);
      s.destroy();
    },
    sent: () => sent,
    reply: () => reply,
    closed: () => closed,
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
