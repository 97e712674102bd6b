import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RespNode, RespType, decodeReply } from '@slotrelay/core';
import { BLANK_LINES, INLINE_CASES } from '../../packages/core/test/fixtures/inline-args-cases.js';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { RawClient } from '../support/raw-client.js';

const hostPort = (seed: string) => ({
  host: seed.slice(0, seed.lastIndexOf(':')),
  port: Number(seed.slice(seed.lastIndexOf(':') + 1)),
});

/** Sends one inline line on a fresh connection and returns the reply frame, or null if the connection closed after it. */
async function sendLine(port: number, line: string, host = '127.0.0.1'): Promise<{ reply: RespNode; closed: boolean }> {
  const c = await RawClient.connect(port, host);
  try {
    c.send(Buffer.from(`${line}\r\n`, 'latin1'));
    const reply = decodeReply(await c.frame());
    await Promise.race([c.closedPromise, c.call('PING').catch(() => undefined)]);
    return { reply, closed: c.closed };
  } finally {
    c.close();
  }
}

const bytesOf = (n: RespNode) => n.items!.map((i) => i.data!.toString('latin1'));

// The table of packages/core/test/fixtures/inline-args-cases.ts is what Redis does: each case is
// checked here against a real node (the unit test checks slotrelay's splitter against the same table).
describe('inline argument splitting: the case table matches redis-server', () => {
  let port: number;
  let host: string;
  beforeAll(() => ({ host, port } = hostPort(sharedCluster().seeds[0]!)));

  for (const c of INLINE_CASES) {
    it(c.name, async () => {
      const { reply, closed } = await sendLine(port, `EVAL "return ARGV" 0 ${c.tail}`, host);
      if (c.args === 'unbalanced') {
        expect(reply.type).toBe(RespType.Error);
        expect(reply.text).toBe('ERR Protocol error: unbalanced quotes in request');
        expect(closed).toBe(true);
      } else {
        expect(bytesOf(reply)).toEqual(c.args);
      }
    });
  }

  it('blank lines get no reply', async () => {
    const c = await RawClient.connect(port, host);
    try {
      c.send(Buffer.from(BLANK_LINES.map((l) => `${l}\r\n`).join('') + 'PING\r\n', 'latin1'));
      expect((await c.reply()).text).toBe('PONG');
    } finally {
      c.close();
    }
  });
});

// Issue 13: a quoted or escaped inline command is the command it decodes to, so the proxy rewrites
// its reply like the plain one's.
describe('quoted and escaped inline commands through the fleet', () => {
  let fleet: TestFleet;
  let redisPorts: Set<string>;
  beforeAll(async () => {
    fleet = await startFleet({ seeds: sharedCluster().seeds });
    redisPorts = new Set(sharedCluster().nodes.map((n) => String(n.port)));
  });
  afterAll(() => fleet?.stop());

  const lines = [
    '"cluster" "nodes"',
    '"\\x63luster" nodes',
    "'CLUSTER' 'SLOTS'",
    'clu"ster" sha\'rds\'',
    '"INF\\x4f" replication',
    '"\\x52OLE"',
    '"cluster" "replicas" ID',
  ];
  for (const line of lines) {
    it(`${line} names only proxies`, async () => {
      let text = line;
      if (line.includes('ID')) {
        const master = sharedCluster().nodes.find((n) => n.role === 'master')!;
        text = line.replace('ID', master.id);
      }
      const { reply } = await sendLine(fleet.ports[0]!, text);
      expect(reply.type).not.toBe(RespType.Error);
      const flat = JSON.stringify(flatten(reply));
      for (const p of redisPorts) expect(flat).not.toMatch(new RegExp(`\\b${p}\\b`));
      if (/cluster/i.test(line)) expect(fleet.ports.some((p) => flat.includes(String(p)))).toBe(true);
    });
  }

  it("unbalanced quotes get Redis's error and the connection closes", async () => {
    const { reply, closed } = await sendLine(fleet.ports[0]!, '"cluster nodes');
    expect(reply.text).toBe('ERR Protocol error: unbalanced quotes in request');
    expect(closed).toBe(true);
  });
});

function flatten(n: RespNode): unknown {
  if (n.items) return n.items.map(flatten);
  if (n.data) return n.data.toString('latin1');
  return n.text ?? null;
}
