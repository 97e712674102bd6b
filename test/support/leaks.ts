import { type RespNode, decodeReply } from '@slotrelay/core';
import { RawClient } from './raw-client.js';

/** A Redis node's endpoints: its host with its client port and its bus port. */
export interface RedisEndpoint {
  host: string;
  port: number;
  cport: number;
}

/** Every node of the cluster with its bus port, from CLUSTER NODES asked of Redis itself. */
export async function redisEndpoints(seed: string): Promise<RedisEndpoint[]> {
  const i = seed.lastIndexOf(':');
  const c = await RawClient.connect(Number(seed.slice(i + 1)), seed.slice(0, i));
  try {
    const text = String(await c.call('CLUSTER', 'NODES'));
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const addr = line.split(' ')[1]!.split(',')[0]!;
        const [hp, cport] = addr.split('@') as [string, string];
        const j = hp.lastIndexOf(':');
        return { host: hp.slice(0, j), port: Number(hp.slice(j + 1)), cport: Number(cport) };
      });
  } finally {
    c.close();
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Where a reply names a Redis node endpoint (client or bus port), written independently of the
 * proxy's own search: `host:port` anywhere in its bytes, INFO's `ip=host,port=p`, `master_port:p`
 * and `tcp_port:p` lines, CLIENT LIST's `laddr=host:p`, a host and its port side by side (ROLE,
 * SLOTS) or in one map under a port key (SHARDS), and a map's port key holding a node's client port
 * (CONFIG GET). Empty when it names none.
 */
export function leaksIn(reply: Buffer, nodes: readonly RedisEndpoint[]): string[] {
  const text = reply.toString('latin1');
  const found: string[] = [];
  for (const n of nodes) {
    for (const p of [n.port, n.cport]) {
      const patterns = [
        `(?<![\\w.-])${escape(n.host)}\\]?:${p}(?!\\d)`,
        `ip=${escape(n.host)},port=${p}(?!\\d)`,
        `(?:master_port|tcp_port):${p}(?!\\d)`,
      ];
      for (const re of patterns) {
        const m = new RegExp(re).exec(text);
        if (m) found.push(`${m[0]} in …${text.slice(Math.max(0, m.index - 40), m.index + 40)}…`);
      }
    }
  }
  walk(decodeReply(reply), nodes, found);
  return found;
}

/** A host then its port as neighbours, or a host and a `…port` key's value in one map. */
function walk(n: RespNode, nodes: readonly RedisEndpoint[], found: string[]): void {
  const items = n.items ?? [];
  const texts = items.map((i) => i.data?.toString('latin1') ?? i.text ?? '');
  for (const node of nodes) {
    const ports = [node.port, node.cport].map(String);
    // A map's port key holding a node's port names it even without the host (CONFIG GET port).
    for (let k = 0; k + 1 < texts.length && texts.length % 2 === 0; k += 2) {
      if (/port/i.test(texts[k]!) && String(node.port) === texts[k + 1])
        found.push(`${texts[k]}=${texts[k + 1]} in a map`);
    }
    texts.forEach((t, i) => {
      if (t !== node.host) return;
      if (ports.includes(texts[i + 1] ?? '')) found.push(`[${t}, ${texts[i + 1]}] side by side`);
      for (let k = 0; k + 1 < texts.length && texts.length % 2 === 0; k += 2) {
        if (/port/i.test(texts[k]!) && ports.includes(texts[k + 1]!))
          found.push(`${t} and ${texts[k]}=${texts[k + 1]} in one map`);
      }
    });
  }
  for (const i of items) walk(i, nodes, found);
}
