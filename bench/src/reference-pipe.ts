/**
 * The reference pipe: the cheapest Node.js Redis Cluster proxy, on Node's stream API, that
 * redis-benchmark --cluster can run through. It stands for what piping costs, so it does nothing else:
 *
 * - one listener per Redis node, node k (nodes sorted by node ID, as slotrelay's dynamic mapping
 *   does) on port `base + k - 1`;
 * - per client connection one upstream connection to that node; bytes piped both ways with
 *   backpressure (pause the reader when `write` returns false, resume on `drain`), as `pipe` does;
 * - the only rewriting redis-benchmark needs, behind checks that cost a few byte compares:
 *   when the first command of a client chunk is CLUSTER NODES / CLUSTER SLOTS, the next reply frame
 *   is decoded and its addresses replaced by the proxies' (by node ID, so NODES and SLOTS agree);
 *   a reply chunk that starts with `-` has its leading -MOVED / -ASK lines rewritten.
 *
 * Known limits (fine for a ceiling, not for production): a CLUSTER command pipelined behind other
 * commands in flight is not recognised; a MOVED/ASK that is not at the start of a reply chunk passes
 * unchanged; the topology is read once at start.
 *
 * Usage: node reference-pipe.js --seed 127.0.0.1:7000 --base-port 21000 [--host 127.0.0.1]
 */
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import {
  ReplyScanner,
  decodeReply,
  encodeReply,
  parseClusterNodes,
  parseHostPort,
  runCommands,
  type RespNode,
} from '@slotrelay/core/internal';

const STAR = 0x2a,
  DOLLAR = 0x24,
  MINUS = 0x2d,
  CR = 0x0d,
  LF = 0x0a;
const MAX_HELD_ERROR_LINE = 512;

interface Target {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly proxyPort: number;
}

/** Per-connection state; `cluster` is set only between a CLUSTER NODES/SLOTS and its reply. */
interface PipeState {
  cluster: 'NODES' | 'SLOTS' | null;
  scanner: ReplyScanner | null;
  held: Buffer[];
  partialError: Buffer | null;
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    'base-port': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!values.seed || !values['base-port']) {
  process.stderr.write('usage: reference-pipe --seed host:port --base-port N [--host 127.0.0.1]\n');
  process.exit(2);
}
const seed = parseHostPort(values.seed, '--seed');
const basePort = Number(values['base-port']);
const proxyHost = values.host!;

const proxyPortById = new Map<string, number>();
const proxyAddressByRedis = new Map<string, string>();

async function discover(): Promise<Target[]> {
  const sock = net.connect({ host: seed.host, port: seed.port });
  try {
    await once(sock, 'connect');
    const [reply] = await runCommands(sock, [['CLUSTER', 'NODES']], 5000);
    if (!reply?.data) throw new Error(`CLUSTER NODES on ${values.seed} failed: ${reply?.text ?? 'no reply'}`);
    const nodes = parseClusterNodes(reply.data.toString('utf8')).sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
    return nodes.map((n, i) => ({ id: n.id, host: n.ip || seed.host, port: n.port, proxyPort: basePort + i }));
  } finally {
    sock.destroy();
  }
}

/** `CLUSTER <sub>` when the first command of a client chunk is CLUSTER NODES or SLOTS; else null. */
function clusterCommand(b: Buffer): 'NODES' | 'SLOTS' | null {
  let i: number;
  if (b[0] === STAR) {
    // *<argc>\r\n$7\r\nCLUSTER\r\n$<n>\r\n<sub>\r\n — every other first command fails at "$7".
    i = b.indexOf(LF) + 1;
    if (i === 0 || b[i] !== DOLLAR || b[i + 1] !== 0x37 || b[i + 2] !== CR) return null;
    i += 4;
    if (!isWord(b, i, 'cluster')) return null;
    i += 9;
    if (b[i] !== DOLLAR) return null;
    i = b.indexOf(LF, i) + 1;
    if (i === 0) return null;
  } else {
    // Inline: CLUSTER NODES\r\n
    if (!isWord(b, 0, 'cluster') || b[7] !== 0x20) return null;
    i = 8;
  }
  return isWord(b, i, 'nodes') ? 'NODES' : isWord(b, i, 'slots') ? 'SLOTS' : null;
}

function isWord(b: Buffer, at: number, lower: string): boolean {
  if (at + lower.length > b.length) return false;
  for (let k = 0; k < lower.length; k++) if ((b[at + k]! | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

function rewriteNodes(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const f = line.split(' ');
      const proxyPort = f.length > 1 ? proxyPortById.get(f[0]!) : undefined;
      if (proxyPort === undefined) return line;
      const at = f[1]!.lastIndexOf('@');
      const cport = at < 0 ? '0' : f[1]!.slice(at + 1).split(',')[0];
      f[1] = `${proxyHost}:${proxyPort}@${cport}`;
      return f.join(' ');
    })
    .join('\n');
}

function rewriteSlots(reply: RespNode): void {
  for (const range of reply.items ?? []) {
    for (const entry of (range.items ?? []).slice(2)) {
      const e = entry.items;
      if (!e || e.length < 2) continue;
      const id = e[2]?.data?.toString('latin1');
      let proxyPort = id ? proxyPortById.get(id) : undefined;
      if (proxyPort === undefined) {
        const to = proxyAddressByRedis.get(`${e[0]!.data?.toString('latin1') ?? ''}:${e[1]!.text ?? ''}`);
        proxyPort = to ? Number(to.slice(to.lastIndexOf(':') + 1)) : undefined;
      }
      if (proxyPort === undefined) continue;
      e[0] = { type: DOLLAR, data: Buffer.from(proxyHost) };
      e[1] = { type: 0x3a, text: String(proxyPort) };
    }
  }
}

function rewriteClusterReply(sub: 'NODES' | 'SLOTS', frame: Buffer): Buffer {
  try {
    const reply = decodeReply(frame);
    if (sub === 'NODES') {
      if (!reply.data) return frame;
      reply.data = Buffer.from(rewriteNodes(reply.data.toString('utf8')));
    } else {
      if (!reply.items) return frame;
      rewriteSlots(reply);
    }
    return encodeReply(reply);
  } catch {
    return frame;
  }
}

/** Collects the reply to CLUSTER NODES/SLOTS (it may span chunks); returns what to send now. */
function takeClusterReply(st: PipeState, chunk: Buffer): Buffer | null {
  const scanner = (st.scanner ??= new ReplyScanner());
  scanner.feed(chunk);
  if (scanner.count === 0) {
    st.held.push(chunk);
    return null;
  }
  const end = scanner.ends[0]!;
  const frame = st.held.length ? Buffer.concat([...st.held, chunk.subarray(0, end)]) : chunk.subarray(0, end);
  const sub = st.cluster!;
  st.cluster = null;
  st.scanner = null;
  st.held = [];
  const out = rewriteClusterReply(sub, frame);
  return end < chunk.length ? Buffer.concat([out, chunk.subarray(end)]) : out;
}

function rewriteRedirect(line: string): string | null {
  const m = /^(MOVED|ASK) (\d+) (\S+)$/.exec(line);
  const to = m ? proxyAddressByRedis.get(m[3]!) : undefined;
  return to ? `${m![1]} ${m![2]} ${to}` : null;
}

/** Rewrites the -MOVED/-ASK lines at the start of a reply chunk (one split line is held back). */
function rewriteLeadingErrors(st: PipeState, chunk: Buffer): Buffer {
  const b = st.partialError ? Buffer.concat([st.partialError, chunk]) : chunk;
  st.partialError = null;
  const out: Buffer[] = [];
  let pos = 0;
  let from = 0;
  while (pos < b.length && b[pos] === MINUS) {
    const eol = b.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) {
      if (b.length - pos > MAX_HELD_ERROR_LINE) break; // not an error line after all: pass it on
      st.partialError = Buffer.from(b.subarray(pos));
      out.push(b.subarray(from, pos));
      return Buffer.concat(out);
    }
    const fixed = rewriteRedirect(b.toString('latin1', pos + 1, eol));
    if (fixed !== null) {
      out.push(b.subarray(from, pos), Buffer.from(`-${fixed}\r\n`, 'latin1'));
      from = eol + 2;
    }
    pos = eol + 2;
  }
  if (out.length === 0) return b;
  out.push(b.subarray(from));
  return Buffer.concat(out);
}

function serve(client: Socket, t: Target): void {
  const upstream = net.connect({ host: t.host, port: t.port, noDelay: true, allowHalfOpen: true });
  const st: PipeState = { cluster: null, scanner: null, held: [], partialError: null };
  client.on('data', (chunk: Buffer) => {
    const sub = clusterCommand(chunk);
    if (sub !== null) st.cluster = sub;
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on('drain', () => client.resume());
  upstream.on('data', (chunk: Buffer) => {
    let out: Buffer | null = chunk;
    if (st.cluster !== null) out = takeClusterReply(st, chunk);
    else if (chunk[0] === MINUS || st.partialError !== null) out = rewriteLeadingErrors(st, chunk);
    if (out !== null && out.length > 0 && !client.write(out)) upstream.pause();
  });
  client.on('drain', () => upstream.resume());
  client.on('end', () => upstream.end());
  upstream.on('end', () => client.end());
  const destroy = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', destroy);
  upstream.on('error', destroy);
  client.on('close', destroy);
  upstream.on('close', destroy);
}

async function main(): Promise<void> {
  const targets = await discover();
  for (const t of targets) {
    proxyPortById.set(t.id, t.proxyPort);
    proxyAddressByRedis.set(`${t.host}:${t.port}`, `${proxyHost}:${t.proxyPort}`);
  }
  await Promise.all(
    targets.map((t) => {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (c) => serve(c, t));
      return new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(t.proxyPort, proxyHost, () => resolve());
      });
    }),
  );
  process.stdout.write(
    `reference-pipe: ${targets.map((t) => `${proxyHost}:${t.proxyPort} -> ${t.host}:${t.port}`).join(', ')}\n`,
  );
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
main().catch((e: unknown) => {
  process.stderr.write(`reference-pipe: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
