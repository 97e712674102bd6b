/**
 * What the differential suite does NOT compare byte for byte — the whole list; everything else in
 * every reply frame must be identical between Redis and slotrelay (sharing off and on):
 *
 * 1. Addresses. A Redis address in a `-MOVED slot host:port` / `-ASK slot host:port` error (at any
 *    depth, e.g. inside an EXEC array) becomes `node(<redis port>)`: for Redis itself when the port
 *    is a Redis node's, for a fleet when it is one of the fleet's proxies (mapped back to the node
 *    that proxy stands for). An address that is neither (a Redis port leaked by a proxy) stays as
 *    it was, so it fails the comparison. The same for the replies of requests marked
 *    `cluster-addresses` (CLUSTER SLOTS / SHARDS): `host:port` strings and the port integer after
 *    a host, and a SHARDS `port` value.
 * 2. Per-connection values, only in the replies of requests marked so (the mask also checks the
 *    shape; a reply of another shape stays as it is):
 *    - `client-id`: CLIENT ID's integer.
 *    - `hello`: HELLO's `id` field (also of a HELLO inside an EXEC array).
 *    - `client-info`: in CLIENT INFO / CLIENT LIST lines, the values of `id addr laddr fd age idle
 *      qbuf qbuf-free argv-mem multi-mem rbs rbp obl oll omem tot-mem events` (the connection's
 *      identity, timing and buffer sizes); `name flags db sub psub ssub multi watch cmd user redir
 *      resp` are compared.
 *    - `info-clients`: INFO clients: every field's value (counts of the whole node, shared with
 *      other tests); the field names are compared.
 *    - `time`: TIME's two integers.
 * Nothing else: no reordering, no dropping of frames, no type coercion (RESP2 and RESP3 frames are
 * compared as sent).
 */
import { type RespTree, describeTree, encodeTree } from './resp.js';
import type { ClientRecord } from './script-client.js';

export type Mask = 'client-id' | 'hello' | 'client-info' | 'info-clients' | 'time' | 'cluster-addresses';

/** Listening port (a Redis node's own, or a proxy's) → the Redis node port it stands for. */
export type PortMap = ReadonlyMap<number, number>;

const CLIENT_FIELDS_MASKED = new Set([
  'id',
  'addr',
  'laddr',
  'fd',
  'age',
  'idle',
  'qbuf',
  'qbuf-free',
  'argv-mem',
  'multi-mem',
  'rbs',
  'rbp',
  'obl',
  'oll',
  'omem',
  'tot-mem',
  'events',
]);

const line = (type: string, text: string): RespTree => ({ type, line: text });
const bulk = (text: string): RespTree => ({ type: '$', data: Buffer.from(text, 'latin1') });

function mapAddress(hostPort: string, ports: PortMap): string {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i);
  const node = ports.get(Number(hostPort.slice(i + 1)));
  return (host === '127.0.0.1' || host === 'localhost') && node !== undefined ? `node(${node})` : hostPort;
}

function mapRedirects(t: RespTree, ports: PortMap): RespTree {
  if (t.type === '-' && t.line !== undefined) {
    const m = /^(MOVED|ASK) (\d+) (\S+:\d+)$/.exec(t.line);
    return m ? line('-', `${m[1]} ${m[2]} ${mapAddress(m[3]!, ports)}`) : t;
  }
  if (t.items) return { ...t, items: t.items.map((i) => mapRedirects(i, ports)) };
  return t;
}

function textOf(t: RespTree): string | undefined {
  if (t.data) return t.data.toString('latin1');
  return t.line;
}

/** A bulk or verbatim string with new text (keeps a verbatim string's `txt:` prefix). */
function withText(t: RespTree, text: string): RespTree {
  return t.data ? { ...t, data: Buffer.from(text, 'latin1') } : { ...t, line: text };
}

function mapClusterAddresses(t: RespTree, ports: PortMap): RespTree {
  if (t.data) {
    const s = t.data.toString('latin1');
    const mapped = s.replace(/\b(127\.0\.0\.1|localhost):(\d+)\b/g, (m) => mapAddress(m, ports));
    return mapped === s ? t : withText(t, mapped);
  }
  if (!t.items) return t;
  const items = t.items.map((i) => mapClusterAddresses(i, ports));
  // CLUSTER SLOTS: [host, port, id, …]; CLUSTER SHARDS: a map … "port", N …
  for (let k = 0; k + 1 < items.length; k++) {
    const prev = textOf(items[k]!);
    const cur = items[k + 1]!;
    if (cur.type !== ':' || cur.line === undefined) continue;
    const isHost = prev === '127.0.0.1' || prev === 'localhost';
    if (isHost || prev === 'port' || prev === 'tls-port') {
      const node = ports.get(Number(cur.line));
      if (node !== undefined) items[k + 1] = line('+', `node(${node})`);
    }
  }
  return { ...t, items };
}

function maskClientLines(t: RespTree): RespTree {
  const text = textOf(t);
  if (text === undefined || !/^(txt:)?id=\d+ /.test(text)) return t;
  const masked = text
    .split('\n')
    .map((l) =>
      l
        .split(' ')
        .map((field) => {
          const eq = field.indexOf('=');
          const key = eq < 0 ? field : field.slice(0, eq).replace(/^txt:/, '');
          return eq >= 0 && CLIENT_FIELDS_MASKED.has(key) ? `${field.slice(0, eq)}=<${key}>` : field;
        })
        .join(' '),
    )
    .join('\n');
  return withText(t, masked);
}

function maskInfoClients(t: RespTree): RespTree {
  const text = textOf(t);
  const head = text === undefined ? null : /^(txt:)?# Clients\r\n/.exec(text);
  if (text === undefined || !head) return t;
  return withText(t, head[0] + text.slice(head[0].length).replace(/^([a-z_]+):[^\r\n]*/gm, '$1:<n>'));
}

/** HELLO's reply (a map, or an array in RESP2, led by `server`), also inside an EXEC array: its `id`. */
function maskHello(t: RespTree): RespTree {
  if (!t.items) return t;
  if ((t.type === '%' || t.type === '*') && textOf(t.items[0] ?? { type: '_' }) === 'server') {
    const items = [...t.items];
    for (let k = 0; k + 1 < items.length; k += 2) {
      if (textOf(items[k]!) === 'id' && items[k + 1]!.type === ':') items[k + 1] = line(':', '<client-id>');
    }
    return { ...t, items };
  }
  return t.type === '*' ? { ...t, items: t.items.map(maskHello) } : t;
}

/** Normalize one frame for comparison (see the list at the top of this file). */
export function normalizeFrame(tree: RespTree, mask: Mask | undefined, ports: PortMap): RespTree {
  let t = mapRedirects(tree, ports);
  switch (mask) {
    case 'client-id':
      if (t.type === ':') t = line(':', '<client-id>');
      break;
    case 'hello':
      t = maskHello(t);
      break;
    case 'client-info':
      t = maskClientLines(t);
      break;
    case 'info-clients':
      t = maskInfoClients(t);
      break;
    case 'time':
      if (t.items?.length === 2 && t.items.every((i) => i.data && /^\d+$/.test(i.data.toString('latin1'))))
        t = { ...t, items: [bulk('<seconds>'), bulk('<microseconds>')] };
      break;
    case 'cluster-addresses':
      t = mapClusterAddresses(t, ports);
      break;
    case undefined:
      break;
  }
  return t;
}

/** A client's record, normalized: each frame's bytes and a readable line. */
export interface NormalizedRecord {
  name: string;
  compare: boolean;
  frames: Array<{ bytes: Buffer; text: string }>;
  extra: string[];
  partialBytes: number;
  closedByServer: boolean;
  error?: string;
}

export function normalizeRecord(r: ClientRecord, ports: PortMap): NormalizedRecord {
  return {
    name: r.name,
    compare: r.compare,
    frames: r.frames.map(({ tree, mask }) => {
      const n = normalizeFrame(tree, mask, ports);
      return { bytes: encodeTree(n), text: describeTree(n) };
    }),
    extra: r.extra.map((t) => describeTree(normalizeFrame(t, undefined, ports))),
    partialBytes: r.partialBytes,
    closedByServer: r.closedByServer,
    error: r.error,
  };
}

/**
 * Every difference between a target's reply streams and the reference's (Redis itself), per
 * client, in words; empty when they are identical. The first differing frame of a client is
 * shown with its neighbours; a count of all differing frames follows.
 */
export function compareRecords(reference: NormalizedRecord[], actual: NormalizedRecord[], target: string): string[] {
  const out: string[] = [];
  const byName = new Map(actual.map((r) => [r.name, r]));
  for (const ref of reference) {
    if (!ref.compare) continue;
    const got = byName.get(ref.name);
    if (!got) {
      out.push(`${target}: client ${ref.name} is missing`);
      continue;
    }
    const where = `${target}: client ${ref.name}`;
    if (got.error) out.push(`${where}: ${got.error}`);
    const n = Math.max(ref.frames.length, got.frames.length);
    let first = -1;
    let differing = 0;
    for (let i = 0; i < n; i++) {
      const a = ref.frames[i];
      const b = got.frames[i];
      if (a && b && a.bytes.equals(b.bytes)) continue;
      differing++;
      if (first < 0) first = i;
    }
    if (first >= 0) {
      const show = (r: NormalizedRecord, i: number) => (r.frames[i] ? r.frames[i]!.text : '(none)');
      const ctx = [first - 1, first, first + 1].filter((i) => i >= 0 && i < n);
      out.push(
        `${where}: ${differing} of ${n} reply frames differ (Redis sent ${ref.frames.length}, ${target} ${got.frames.length}); ` +
          `first at #${first}:\n` +
          ctx.map((i) => `  #${i} redis:  ${show(ref, i)}\n  #${i} ${target}: ${show(got, i)}`).join('\n'),
      );
    }
    if (ref.extra.join('\n') !== got.extra.join('\n'))
      out.push(`${where}: unasked frames differ: redis [${ref.extra.join(', ')}], ${target} [${got.extra.join(', ')}]`);
    if (ref.partialBytes !== got.partialBytes)
      out.push(`${where}: a partial frame of ${got.partialBytes} bytes (redis: ${ref.partialBytes})`);
    if (ref.closedByServer !== got.closedByServer)
      out.push(`${where}: closed by the server: redis ${ref.closedByServer}, ${target} ${got.closedByServer}`);
  }
  for (const r of actual) {
    if (r.compare && !reference.some((x) => x.name === r.name)) out.push(`${target}: unexpected client ${r.name}`);
  }
  return out;
}
