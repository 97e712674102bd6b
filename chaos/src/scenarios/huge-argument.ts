import { Redis } from 'ioredis';
import { MB, connectRaw, ownedKeys, sleep } from '../support/raw-socket.js';
import { sampleMemory, withMeasuredProxy } from '../support/measured-proxy.js';
import { type Check, type Outcome, type Scenario, type ScenarioContext, check } from '../types.js';

/** After the connections close (and a GC), the proxy's arrayBuffers must be this close to the baseline. */
const AFTER_SLACK = 8 * MB;
/** Meanwhile, another client's PING must be answered this fast (a generous bound: the machine is shared). */
const PING_MAX_MS = 2000;
/** How long a client waits for the reply to its huge request. */
const REPLY_MS = 60_000;
/** ... and within this long. */
const AFTER_MS = 5000;
/**
 * A streamed SET may grow the proxy's arrayBuffers by at most this much, whatever its size (the
 * figure counts garbage not yet collected: V8 collects external memory only every few tens of MB).
 */
const STREAM_MAX = 48 * MB;

/**
 * Four connections send one huge argument each (256 MB; quick: 32 MB): to INFO, CLUSTER and
 * GALLIUMDATA (commands the proxy watches, so it may hold them whole) and to SET (streamed). The
 * proxy's memory must come back to its baseline once they close, and the SET must stay flat.
 */
export const hugeArgument: Scenario = {
  name: 'huge-argument',
  title:
    'huge arguments to INFO / CLUSTER / GALLIUMDATA and SET: proxy memory back to baseline after close, SET streamed flat',
  async run(ctx: ScenarioContext): Promise<Outcome> {
    const figures: Outcome['figures'] = {};
    const checks: Check[] = [];
    const size = (ctx.quick ? 32 : 256) * MB;
    figures.argumentMB = size / MB;
    return withMeasuredProxy(async ({ node, proxy, redis }) => {
      const [key] = await ownedKeys(redis, 'chaos:huge:', 1);
      const base = await proxy.memory(true);
      figures['proxy.arrayBuffersBeforeMB'] = mb(base.arrayBuffers);
      figures['proxy.rssBeforeMB'] = mb(proxy.rss());

      // The SET alone: streamed, so flat.
      let sampler = sampleMemory(proxy, 100);
      const set = await sendHuge(proxy.host, proxy.port, ['SET', key!], size);
      let peaks = await sampler.stop();
      const strlen = await redis.strlen(key!);
      await redis.del(key!);
      figures['proxy.set.reply'] = set.reply.trim() || '(none)';
      figures['proxy.set.arrayBuffersPeakMB'] = mb(peaks.arrayBuffers);
      figures['proxy.set.storedMB'] = mb(strlen);
      checks.push(
        check(
          `SET of ${size / MB} MB through the proxy: +OK, stored whole`,
          set.reply === '+OK\r\n' && strlen === size,
          `${JSON.stringify(set.reply)}, STRLEN ${strlen}`,
        ),
      );
      checks.push(
        check(
          `SET streamed flat: arrayBuffers growth ≤ ${STREAM_MAX / MB} MB`,
          peaks.arrayBuffers - base.arrayBuffers <= STREAM_MAX,
          `${mb(base.arrayBuffers)} → peak ${mb(peaks.arrayBuffers)} MB over ${peaks.samples} samples`,
        ),
      );

      ctx.log(`SET done: ${JSON.stringify(set.reply)}, arrayBuffers peak ${mb(peaks.arrayBuffers)} MB`);

      // The watched commands, together, while another client PINGs through the proxy.
      const watched = [['INFO'], ['CLUSTER'], ['GALLIUMDATA']];
      sampler = sampleMemory(proxy, 100);
      const pinger = new Pinger(proxy.host, proxy.port);
      await pinger.ready;
      const proxied = await Promise.all(watched.map((w) => sendHuge(proxy!.host, proxy!.port, w, size)));
      const { maxMs: pingMaxMs, answered: pings } = await pinger.stop();
      peaks = await sampler.stop();
      ctx.log(
        `watched done in ${proxied.map((r) => r.replyMs).join('/')} ms after their last byte; PING max ${pingMaxMs} ms`,
      );
      // Closing takes the proxy a moment: poll (after a GC each time) up to a deadline.
      let after = await proxy.memory(true);
      for (const t0 = Date.now(); after.arrayBuffers - base.arrayBuffers > AFTER_SLACK && Date.now() - t0 < AFTER_MS;) {
        await sleep(250);
        after = await proxy.memory(true);
      }
      watched.forEach(([w], i) => {
        figures[`proxy.${w}.reply`] = short(proxied[i]!.reply);
        figures[`proxy.${w}.closed`] = proxied[i]!.closed;
        figures[`proxy.${w}.replyMs`] = proxied[i]!.replyMs;
      });
      Object.assign(figures, {
        'proxy.watched.arrayBuffersPeakMB': mb(peaks.arrayBuffers),
        // How long another client's PING waited at worst meanwhile (the event loop joining and scanning held frames).
        'proxy.watched.otherClientPingMaxMs': pingMaxMs,
        'proxy.watched.otherClientPongs': pings,
        'proxy.watched.rssPeakMB': mb(peaks.rss),
        'proxy.arrayBuffersAfterMB': mb(after.arrayBuffers),
        'proxy.rssAfterMB': mb(proxy.rss()),
      });
      checks.push(
        check(
          `after the connections close, arrayBuffers back within ${AFTER_SLACK / MB} MB of the baseline within ${AFTER_MS} ms`,
          after.arrayBuffers - base.arrayBuffers <= AFTER_SLACK,
          `${mb(base.arrayBuffers)} → peak ${mb(peaks.arrayBuffers)} → ${mb(after.arrayBuffers)} MB`,
        ),
      );
      checks.push(
        check(
          `another client's PING through the proxy answered within ${PING_MAX_MS} ms meanwhile`,
          pingMaxMs <= PING_MAX_MS && pings > 0,
          `slowest ${pingMaxMs} ms, ${pings} PONGs`,
        ),
      );
      checks.push(
        check(
          'the proxy process is alive',
          proxy.alive(),
          proxy.alive() ? `pid ${proxy.pid}` : `exited ${JSON.stringify(proxy.exit)}`,
        ),
      );

      // The same bytes directly, for comparison.
      for (const w of [...watched, ['SET', key!]]) {
        const r = await sendHuge(node.host, node.port, w, size);
        figures[`direct.${w[0]}.reply`] = short(r.reply);
      }
      await redis.del(key!);
      ctx.log(
        `arrayBuffers ${figures['proxy.arrayBuffersBeforeMB']} → SET peak ${figures['proxy.set.arrayBuffersPeakMB']}, watched peak ${figures['proxy.watched.arrayBuffersPeakMB']} → after ${figures['proxy.arrayBuffersAfterMB']} MB`,
      );
      return { figures, checks };
    });
  },
};

/**
 * Send `*<n+1>` + `args` + one bulk of `size` bytes (1 MB writes, with backpressure), then wait up
 * to `REPLY_MS` for a reply line or the server's close. Resolves with what came back.
 */
async function sendHuge(
  host: string,
  port: number,
  args: string[],
  size: number,
): Promise<{ reply: string; closed: boolean; replyMs: number }> {
  const s = await connectRaw(host, port);
  let reply = '';
  let closed = false;
  s.on('data', (b) => {
    reply += b.toString('latin1');
  });
  s.on('error', () => {});
  const gone = new Promise<void>((r) =>
    s.on('close', () => {
      closed = true;
      r();
    }),
  );
  const head = `*${args.length + 1}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}$${size}\r\n`;
  const chunk = Buffer.alloc(MB, 'x');
  const write = (b: Buffer | string) =>
    s.write(b)
      ? Promise.resolve()
      : new Promise<void>((r) => {
          const go = () => {
            s.off('drain', go);
            s.off('close', go);
            r();
          };
          s.on('drain', go);
          s.on('close', go);
        });
  await write(head);
  for (let sent = 0; sent < size && !closed; sent += MB)
    await write(sent + MB <= size ? chunk : chunk.subarray(0, size - sent));
  if (!closed) await write('\r\n');
  const sentAt = Date.now();
  while (!closed && !reply.includes('\r\n') && Date.now() - sentAt < REPLY_MS) await Promise.race([gone, sleep(50)]);
  const replyMs = reply.includes('\r\n') || closed ? Date.now() - sentAt : -1;
  s.destroy();
  return { reply, closed, replyMs };
}

function mb(n: number): number {
  return Math.round((n / MB) * 10) / 10;
}

function short(reply: string): string {
  return reply.length > 120 ? `${reply.slice(0, 120)}…(${reply.length} bytes)` : reply.trim() || '(none)';
}

/** A client PINGing through the proxy every 100 ms, keeping the slowest answer's time. */
class Pinger {
  private running = true;
  private max = 0;
  private answered = 0;
  private readonly client: Redis;
  private readonly loop: Promise<void>;
  private firstPong!: () => void;
  /** Resolves once the first PING was answered (or failed), so the measured phase starts connected. */
  readonly ready = new Promise<void>((r) => {
    this.firstPong = r;
  });

  constructor(host: string, port: number) {
    const client = new Redis({ host, port, maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    client.on('error', () => {});
    this.client = client;
    this.loop = (async () => {
      await client.connect();
      while (this.running) {
        const t0 = performance.now();
        if ((await client.ping().catch(() => null)) === 'PONG') this.answered++;
        this.max = Math.max(this.max, performance.now() - t0);
        this.firstPong();
        await sleep(100);
      }
    })()
      .catch(() => {})
      .finally(() => this.firstPong());
  }

  /** Stop; resolves with the slowest PING in ms, and how many were answered PONG. */
  async stop(): Promise<{ maxMs: number; answered: number }> {
    this.running = false;
    await this.loop;
    this.client.disconnect();
    return { maxMs: Math.round(this.max), answered: this.answered };
  }
}
