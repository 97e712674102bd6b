import { RawClient } from './raw-client.js';

/** One node as Redis itself describes it (CLUSTER NODES asked of Redis, not of a proxy). */
export interface RedisNodeLine {
  id: string;
  host: string;
  port: number;
  role: 'master' | 'replica';
  flags: string[];
  slots: Array<[number, number]>;
}

/** CLUSTER NODES of a Redis node, parsed (handshake nodes included: filter them yourself). */
export async function redisNodes(port: number, host = '127.0.0.1'): Promise<RedisNodeLine[]> {
  const c = await RawClient.connect(port, host);
  try {
    const text = String(await c.call('CLUSTER', 'NODES'));
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const f = line.split(' ');
        const addr = f[1]!.split('@')[0]!;
        const flags = f[2]!.split(',');
        const slots = f
          .slice(8)
          .filter((s) => /^\d/.test(s))
          .map((s) => {
            const [lo, hi] = s.split('-').map(Number);
            return [lo!, hi ?? lo!] as [number, number];
          });
        return {
          id: f[0]!,
          host: addr.slice(0, addr.lastIndexOf(':')),
          port: Number(addr.slice(addr.lastIndexOf(':') + 1)),
          role: flags.includes('slave') ? ('replica' as const) : ('master' as const),
          flags,
          slots,
        };
      });
  } finally {
    c.close();
  }
}

/**
 * The lines GALLIUMDATA STATUSCLUSTER must answer for a dynamic fleet on 127.0.0.1 `ports` (instance
 * k+1 on ports[k]) in front of `nodes`, asked of `selfIndex`'s proxy; the last line ("Topology read
 * from …") is returned as a RegExp, as its time and scan count vary.
 */
export function expectedStatusCluster(
  nodes: readonly RedisNodeLine[],
  ports: readonly number[],
  selfIndex: number,
  opts: { seed: number; order?: 'sorted' | 'address' } = { seed: 0 },
): { rows: string[]; last: RegExp } {
  const mapped = nodes.filter((n) => !n.flags.includes('handshake') && !n.flags.includes('noaddr'));
  const ordered = [...mapped].sort(
    opts.order === 'address'
      ? (a, b) => a.port - b.port || (a.id < b.id ? -1 : 1)
      : (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  const rows = [
    'OK Cluster mappings (dynamic):',
    ...ordered.map(
      (n, k) =>
        `Redis server ${n.host}:${n.port} is mapped to slotrelay 127.0.0.1:${ports[k]} (node ${n.id}, ${n.role})${k === selfIndex ? ' <- this proxy' : ''}`,
    ),
  ];
  if (selfIndex >= ordered.length) {
    rows.push(
      `This proxy (instance ${selfIndex + 1}) fronts no Redis node: the cluster has ${ordered.length} nodes, clusterMembers lists ${ports.length}`,
    );
  }
  const last = new RegExp(
    `^Topology read from 127\\.0\\.0\\.1:${opts.seed} at (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z); (?:1 scan|(?:[02-9]|\\d{2,}) scans) since start$`,
  );
  return { rows, last };
}

/** The ordered list of Redis node IDs behind the rows of a STATUSCLUSTER text. */
export function statusRows(text: string): Array<{ redisPort: number; proxyPort: number; id: string; self: boolean }> {
  return [
    ...text.matchAll(
      /^Redis server [^ ]+:(\d+) is mapped to slotrelay [^ ]+:(\d+) \(node ([0-9a-f]{40}), (?:master|replica)(?:, [a-z?]+)*\)( <- this proxy)?$/gm,
    ),
  ].map((m) => ({
    redisPort: Number(m[1]),
    proxyPort: Number(m[2]),
    id: m[3]!,
    self: m[4] !== undefined,
  }));
}
