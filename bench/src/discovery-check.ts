/**
 * What a cluster client learns through a contender: the addresses in CLUSTER NODES, CLUSTER SLOTS
 * and a -MOVED redirect. A proxy contender is only measured if all three name its own ports;
 * otherwise redis-benchmark --cluster would connect to Redis directly and bypass it.
 */
import net from 'node:net';
import { once } from 'node:events';
import { type RespNode, parseClusterNodes, runCommands } from '@slotrelay/core/internal';
import { HOST } from './contenders.js';

export interface DiscoveryCheck {
  /** True when NODES, SLOTS and MOVED all name only `ports`, and NODES and SLOTS agree on node IDs. */
  ok: boolean;
  nodes: string;
  slots: string;
  moved: string;
}

/** Opens a connection to HOST:port and hands `use` a function that sends commands and awaits their replies. */
export async function withConnection<T>(
  port: number,
  use: (send: (...commands: ReadonlyArray<ReadonlyArray<string | number>>) => Promise<RespNode[]>) => Promise<T>,
  timeoutMs = 5000,
): Promise<T> {
  const sock = net.connect({ host: HOST, port });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      once(sock, 'connect'),
      new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`connect to ${port} timed out`)), timeoutMs)),
      ),
    ]);
    return await use((...commands) => runCommands(sock, commands, timeoutMs));
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
}

/** Sends commands (pipelined) on a fresh connection to HOST:port; one reply per command. */
export function query(
  port: number,
  commands: ReadonlyArray<ReadonlyArray<string | number>>,
  timeoutMs = 5000,
): Promise<RespNode[]> {
  return withConnection(port, (send) => send(...commands), timeoutMs);
}

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));

export async function checkDiscovery(port: number, ports: readonly number[]): Promise<DiscoveryCheck> {
  const own = new Set(ports);
  const verdict = (seen: number[]) =>
    seen.length === 0
      ? 'no addresses'
      : seen.every((p) => own.has(p))
        ? 'proxy addresses'
        : `Redis addresses (ports ${[...new Set(seen.filter((p) => !own.has(p)))].join(',')})`;
  let nodes = 'error';
  let slots = 'error';
  let moved = 'no MOVED seen';
  let nodeIds = new Set<string>();
  const slotIds = new Set<string>();
  try {
    // One command per round trip, as cluster clients discover (the reference pipe only looks at
    // the first command of a chunk).
    await withConnection(port, async (send) => {
      const [n] = await send(['CLUSTER', 'NODES']);
      if (n?.data) {
        const parsed = parseClusterNodes(n.data.toString('utf8')).filter((x) => !x.flags.includes('noaddr'));
        nodeIds = new Set(parsed.map((x) => x.id));
        nodes = verdict(parsed.map((x) => x.port));
      } else nodes = `error reply ${n?.text ?? '?'}`;
      const [s] = await send(['CLUSTER', 'SLOTS']);
      if (s?.items) {
        const seen: number[] = [];
        for (const range of s.items) {
          for (const e of (range.items ?? []).slice(2)) {
            seen.push(Number(e.items?.[1]?.text));
            const id = e.items?.[2]?.data?.toString('latin1');
            if (id) slotIds.add(id);
          }
        }
        slots = verdict(seen);
      } else slots = `error reply ${s?.text ?? '?'}`;
      for (let i = 0; i < 32; i++) {
        const [g] = await send(['GET', `bench:probe:${i}`]);
        if (g?.type === 0x2d && /^(MOVED|ASK) /.test(g.text ?? '')) {
          moved = verdict([portOf(g.text!.split(' ')[2]!)]);
          break;
        }
      }
    });
  } catch (e) {
    nodes = nodes === 'error' ? `error ${(e as Error).message}` : nodes;
  }
  const idsAgree = [...slotIds].every((id) => nodeIds.has(id));
  if (!idsAgree) slots += ' (node IDs not in CLUSTER NODES)';
  return {
    ok: nodes === 'proxy addresses' && slots === 'proxy addresses' && moved === 'proxy addresses' && idsAgree,
    nodes,
    slots,
    moved,
  };
}
