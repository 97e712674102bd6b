import type net from 'node:net';
import { Redis } from 'ioredis';
import { startCluster } from '@slotrelay/local-cluster';
import { fdCount } from '../support/proxies.js';
import { MeasuredProxy } from '../support/measured-proxy.js';
import { connectRaw, connectedClients, pollUntil, serverEndsOpen, sleep } from '../support/raw-socket.js';
import { type Check, type Outcome, type Scenario, type ScenarioContext, check } from '../types.js';

/** Requests Redis answers with `-ERR Protocol error: …` and a close. */
const PROTOCOL_ERRORS = [
  'set "a b\r\n', // inline, unbalanced quotes
  '*1\r\n$x\r\n', // bad bulk length
  '*1\r\nfoo\r\n', // '$' expected
  '*99999999999\r\n', // multibulk length beyond 1024*1024*1024
  '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000000\r\n', // bulk length beyond proto-max-bulk-len
].map((s) => Buffer.from(s, 'latin1'));

const CONNECTIONS = 100;
/** Everything must be back to its baseline this long after the last error was sent. */
const SETTLE_MS = 5000;
/**
 * A client that never reads or closes: the server must close its end this soon after the error —
 * the issue's ~2 s, plus 2 s for a machine shared by many (100 closes measured at 2.5–3 s under a
 * load average of 15 on 2 cores, with the proxy's 2 s grace).
 */
const CLOSE_MS = 4000;
/** fds / Redis connections a proxy may hold beyond the baseline for its own reasons (a topology check in flight). */
const SLACK = 2;

type Manner = 'readThenClose' | 'closeAtOnce' | 'neverClose';
const MANNERS: Manner[] = ['readThenClose', 'closeAtOnce', 'neverClose'];

/**
 * 100 connections each send a protocol error, in three manners (read the error and close; close at
 * once; never read, never close), through one proxy and directly: the proxy's fds and its Redis
 * node's connections must come back to their baseline, whatever the client does.
 */
export const badClients: Scenario = {
  name: 'bad-clients',
  title:
    'protocol errors from 100 clients that read and close / close at once / never close: fds and Redis connections back to baseline',
  async run(ctx: ScenarioContext): Promise<Outcome> {
    const figures: Outcome['figures'] = {};
    const checks: Check[] = [];
    const cluster = await startCluster({ masters: 3, replicasPerMaster: 0 });
    let proxy: MeasuredProxy | undefined;
    const control: Redis[] = [];
    try {
      const node = cluster.masters()[0]!;
      const nodeAddr = `${node.host}:${node.port}`;
      proxy = await MeasuredProxy.start({ node: nodeAddr, nodes: cluster.seeds });
      const redis = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      control.push(redis);
      await redis.connect();
      // One request through the proxy first, so its discovery is done and the baseline is steady.
      const warm = new Redis({ host: proxy.host, port: proxy.port, lazyConnect: true, maxRetriesPerRequest: 0 });
      await warm.connect();
      await warm.ping();
      warm.disconnect();
      await sleep(300);

      for (const target of ['proxy', 'direct'] as const) {
        const port = target === 'proxy' ? proxy.port : node.port;
        const p = proxy;
        const fds = () => (target === 'proxy' ? fdCount(p.pid) : 0);
        const firstFds = fds();
        const firstClients = await connectedClients(redis);
        for (const manner of MANNERS) {
          const baseFds = fds();
          const baseClients = await connectedClients(redis);
          const r = await round(node.host, port, manner);
          const duringFds = fds();
          const duringClients = await connectedClients(redis);
          // Closed means the server sent its FIN and let go of the socket (fd, Redis client).
          const closeMs =
            manner !== 'neverClose'
              ? null
              : await pollUntil(
                  async () =>
                    serverEndsOpen(port, r.clientPorts) === 0 &&
                    fds() <= baseFds + SLACK &&
                    (await connectedClients(redis)) <= baseClients + SLACK,
                  CLOSE_MS,
                  20,
                );
          const closeDetail =
            closeMs !== null && closeMs < 0
              ? `after ${CLOSE_MS} ms ${serverEndsOpen(port, r.clientPorts)} of ${CONNECTIONS} server ends without a FIN${target === 'proxy' ? `, ${fds() - baseFds} more proxy fds than before` : ''}`
              : `${closeMs} ms`;
          let afterClients = duringClients;
          const settleMs = await pollUntil(
            async () => {
              afterClients = await connectedClients(redis);
              return fds() <= baseFds + SLACK && afterClients <= baseClients + SLACK;
            },
            SETTLE_MS,
            100,
          );
          const afterFds = fds();
          for (const s of r.sockets) s.destroy();
          const key = `${target}.${manner}`;
          if (target === 'proxy')
            Object.assign(figures, {
              [`${key}.fds.before`]: baseFds,
              [`${key}.fds.during`]: duringFds,
              [`${key}.fds.after`]: afterFds,
            });
          Object.assign(figures, {
            [`${key}.redisClients.before`]: baseClients,
            [`${key}.redisClients.during`]: duringClients,
            [`${key}.redisClients.after`]: afterClients,
            [`${key}.settleMs`]: settleMs,
            [`${key}.protocolErrorsRead`]: r.errorsSeen,
          });
          if (closeMs !== null) figures[`${key}.serverCloseMs`] = closeMs;
          ctx.log(
            `${key}: fds ${baseFds}/${duringFds}/${afterFds}, redis clients ${baseClients}/${duringClients}/${afterClients}, settled in ${settleMs} ms${closeMs !== null ? `, server ends closed in ${closeMs} ms` : ''}`,
          );
          checks.push(
            check(
              `${key}: ${target === 'proxy' ? 'proxy fds and ' : ''}Redis connections back to baseline (+${SLACK}) within ${SETTLE_MS} ms`,
              settleMs >= 0,
              `${target === 'proxy' ? `fds ${baseFds} → ${duringFds} → ${afterFds}; ` : ''}connected_clients ${baseClients} → ${duringClients} → ${afterClients}; ${settleMs >= 0 ? `${settleMs} ms` : 'not within the deadline'}`,
            ),
          );
          if (closeMs !== null) {
            checks.push(
              check(
                `${key}: the server closes every connection within ${CLOSE_MS} ms of the error`,
                closeMs >= 0,
                closeDetail,
              ),
            );
          }
          if (manner === 'readThenClose') {
            checks.push(
              check(
                `${key}: every client read '-ERR Protocol error'`,
                r.errorsSeen === CONNECTIONS,
                `${r.errorsSeen} of ${CONNECTIONS}`,
              ),
            );
          }
        }
        // Each round is judged against its own start; this catches what the rounds left together.
        const endFds = fds();
        const endClients = await connectedClients(redis);
        checks.push(
          check(
            `${target}: after the three rounds, ${target === 'proxy' ? 'proxy fds and ' : ''}Redis connections at their first baseline (+${SLACK})`,
            endFds <= firstFds + SLACK && endClients <= firstClients + SLACK,
            `${target === 'proxy' ? `fds ${firstFds} → ${endFds}; ` : ''}connected_clients ${firstClients} → ${endClients}`,
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
    } finally {
      for (const c of control) c.disconnect();
      await proxy?.stop();
      await cluster.stop();
    }
  },
};

/**
 * Open `CONNECTIONS` connections to `host:port`, each sending one protocol error in `manner`.
 * Resolves once every error is sent (and, for readThenClose, read or the deadline passed).
 */
async function round(
  host: string,
  port: number,
  manner: Manner,
): Promise<{ sockets: net.Socket[]; clientPorts: Set<number>; errorsSeen: number }> {
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectRaw(host, port)));
  const clientPorts = new Set(sockets.map((s) => s.localPort!));
  let errorsSeen = 0;
  await Promise.all(
    sockets.map(
      (s, i) =>
        new Promise<void>((resolve) => {
          s.on('error', () => {});
          const payload = PROTOCOL_ERRORS[i % PROTOCOL_ERRORS.length]!;
          if (manner === 'closeAtOnce') {
            s.end(payload, () => {
              s.destroy();
              resolve();
            });
          } else if (manner === 'neverClose') {
            s.pause();
            s.write(payload, () => resolve());
          } else {
            let got = '';
            const t = setTimeout(() => {
              s.destroy();
              resolve();
            }, SETTLE_MS);
            s.on('data', (b) => {
              got += b.toString('latin1');
              if (got.includes('\r\n')) {
                if (got.startsWith('-ERR Protocol error')) errorsSeen++;
                clearTimeout(t);
                s.end();
                resolve();
              }
            });
            s.on('close', () => {
              clearTimeout(t);
              resolve();
            });
            s.write(payload);
          }
        }),
    ),
  );
  return { sockets, clientPorts, errorsSeen };
}
