/**
 * Reading every address (and node ID) out of a reply, per reply kind, so tests can assert that only
 * proxy addresses remain.
 */
import {
  type ClusterNode,
  ReplyScanner,
  type RespNode,
  RespType,
  decodeReply,
  parseNodeAddress,
  toPlain,
} from '@slotrelay/core/internal';
import { expect } from 'vitest';
import type { ReplyKind } from '@slotrelay/middleware-cluster-cmds';

/** An address as a reply wrote it; `field` says where (for failure messages). */
export interface Found {
  readonly field: string;
  readonly host: string | null;
  readonly port: number | null;
}

/** What a reply says, reduced to what the tests check. */
export interface Extracted {
  readonly addresses: Found[];
  /** Node IDs named, in order. */
  readonly ids: string[];
}

/** A RESP2 flat map or a RESP3 map (both through `toPlain`) as an object. */
function asObject(v: unknown): Record<string, unknown> {
  if (Array.isArray(v)) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < v.length; i += 2) o[String(v[i])] = v[i + 1];
    return o;
  }
  return (v ?? {}) as Record<string, unknown>;
}

function nodesLines(text: string, out: Extracted): void {
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [id, addr] = line.split(' ') as [string, string];
    const a = parseNodeAddress(addr);
    out.ids.push(id);
    out.addresses.push({ field: `${id} address`, host: a.ip, port: a.port });
    if (a.hostname) out.addresses.push({ field: `${id} hostname`, host: a.hostname, port: null });
  }
}

/** Every address and node ID in a decoded reply of `kind`. */
export function extract(kind: ReplyKind, node: RespNode): Extracted {
  const out: Extracted = { addresses: [], ids: [] };
  const plain = toPlain(node);
  switch (kind) {
    case 'nodes':
      nodesLines(String(plain), out);
      break;
    case 'replicas':
      for (const line of plain as string[]) nodesLines(line, out);
      break;
    case 'slots':
      for (const range of plain as unknown[][]) {
        for (const e of range.slice(2) as unknown[][]) {
          const id = String(e[2]);
          out.ids.push(id);
          out.addresses.push({ field: `${id} endpoint`, host: e[0] as string | null, port: e[1] as number });
          const meta = asObject(e[3]);
          if ('ip' in meta) out.addresses.push({ field: `${id} meta ip`, host: meta['ip'] as string, port: null });
          if ('hostname' in meta)
            out.addresses.push({ field: `${id} meta hostname`, host: meta['hostname'] as string, port: null });
        }
      }
      break;
    case 'shards':
      for (const shard of plain as unknown[]) {
        for (const n of asObject(shard)['nodes'] as unknown[]) {
          const o = asObject(n);
          const id = String(o['id']);
          out.ids.push(id);
          for (const k of ['ip', 'endpoint', 'hostname'])
            if (k in o) out.addresses.push({ field: `${id} ${k}`, host: o[k] as string, port: null });
          for (const k of ['port', 'tls-port'])
            if (k in o) out.addresses.push({ field: `${id} ${k}`, host: null, port: o[k] as number });
        }
      }
      break;
    case 'info': {
      const text = String(plain);
      const host = /^master_host:(.*)$/m.exec(text.replace(/\r/g, ''));
      const port = /^master_port:(.*)$/m.exec(text.replace(/\r/g, ''));
      if (host || port)
        out.addresses.push({ field: 'master', host: host?.[1] ?? null, port: port ? Number(port[1]) : null });
      for (const m of text.matchAll(/^(slave\d+):ip=([^,]*),port=(\d+)/gm)) {
        out.addresses.push({ field: m[1]!, host: m[2]!, port: Number(m[3]) });
      }
      break;
    }
    case 'role': {
      const r = plain as unknown[];
      if (r[0] === 'master') {
        for (const rep of r[2] as unknown[][])
          out.addresses.push({ field: 'replica', host: String(rep[0]), port: Number(rep[1]) });
      } else if (r[0] === 'slave') {
        out.addresses.push({ field: 'master', host: String(r[1]), port: Number(r[2]) });
      }
      break;
    }
  }
  return out;
}

/** Scans `bytes` with core's ReplyScanner: exactly one frame, ending at the last byte. Returns its decoded value. */
export function expectOneFrame(bytes: Buffer, type: number, label = ''): RespNode {
  const sc = new ReplyScanner();
  sc.feed(bytes);
  expect(sc.count, `${label}: frames`).toBe(1);
  expect(sc.ends[0], `${label}: frame end`).toBe(bytes.length);
  expect(sc.inFrame, `${label}: trailing partial frame`).toBe(false);
  expect(String.fromCharCode(bytes[0]!), `${label}: type byte`).toBe(String.fromCharCode(type));
  const node = decodeReply(bytes); // throws on a wrong length anywhere
  if (type === RespType.Verbatim) expect(node.format, `${label}: verbatim format`).toBe('txt');
  return node;
}

/**
 * Every address in `found` is a proxy address (by host and, where given, port), and none names a
 * Redis node of `redis` by IP, hostname or client port. `hidden` hosts (`''`/`?`, port 0) are allowed.
 */
export function expectOnlyProxies(
  found: Extracted,
  proxies: { hosts: Set<string>; ports: Set<number> },
  redis: readonly ClusterNode[],
  label = '',
): void {
  const redisHosts = new Set(redis.flatMap((n) => [n.ip, n.hostname]).filter((h) => h !== ''));
  const redisPorts = new Set(redis.map((n) => n.port));
  for (const a of found.addresses) {
    const where = `${label}: ${a.field} = ${a.host}:${a.port}`;
    const hidden = (a.host === '' || a.host === '?') && (a.port === 0 || a.port === null);
    if (a.host !== null && !hidden) {
      expect(redisHosts.has(a.host), where).toBe(false);
      expect(proxies.hosts.has(a.host), where).toBe(true);
    }
    if (a.port !== null && !hidden) {
      expect(redisPorts.has(a.port), where).toBe(false);
      expect(proxies.ports.has(a.port), where).toBe(true);
    }
  }
}

/** The text of a reply with every Redis IP and hostname of `redis` searched for: none may appear. */
export function expectNoRedisHostText(bytes: Buffer, redis: readonly ClusterNode[], label = ''): void {
  const text = bytes.toString('latin1');
  for (const n of redis) {
    for (const h of [n.ip, n.hostname]) {
      if (h === '') continue;
      // '::1' is a substring of no proxy address the tests use; '127.0.0.1' neither.
      expect(text.includes(h), `${label}: Redis host ${h} appears`).toBe(false);
    }
  }
}
