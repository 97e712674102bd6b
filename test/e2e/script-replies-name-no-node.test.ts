import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RespNode, RespType, decodeReply, encodeCommand } from '@slotrelay/core';
import { sharedCluster } from '../support/cluster.js';
import { type TestFleet, startFleet } from '../support/fleet.js';
import { type RedisEndpoint, leaksIn, redisEndpoints } from '../support/leaks.js';
import { RawClient } from '../support/raw-client.js';

const ERROR = "ERR slotrelay: the script's reply names a Redis node address";

const LIBRARY = `#!lua name=srleaks
redis.register_function{function_name='sr_nodes', callback=function() return redis.call('cluster','nodes') end, flags={'no-writes'}}
redis.register_function('sr_shards', function() return redis.call('cluster','shards') end)
redis.register_function('sr_embedded', function() local t = redis.call('cluster','nodes'); return 'x ' .. string.sub(t, 42, 41 + string.find(string.sub(t, 42), ' ')) .. 'y' end)`;

// Issue 13: a script could hand the client what redis.call('cluster', …) / ('info', 'replication')
// returned — Redis addresses. Through the fleet, those come back rewritten, or refused.
describe('script replies through the fleet name no Redis node', () => {
  let fleet: TestFleet;
  let nodes: RedisEndpoint[];
  let proxyPorts: Set<number>;
  let masterProxy = -1;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    fleet = await startFleet({ seeds: sharedCluster().seeds });
    nodes = await redisEndpoints(sharedCluster().seeds[0]!);
    proxyPorts = new Set(fleet.ports);
    // FUNCTION LOAD needs a master (functions live on each node; a replica refuses writes).
    for (let i = 0; i < fleet.ports.length && masterProxy < 0; i++) {
      const c = await client(2, i);
      if ((await run(c, 'ROLE')).node.items![0]!.data!.toString() === 'master') masterProxy = i;
    }
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await fleet?.stop();
  });

  async function client(protocol: 2 | 3, proxy = 0): Promise<RawClient> {
    const c = await RawClient.connect(fleet.ports[proxy]!);
    clients.push(c);
    if (protocol === 3) await c.call('HELLO', '3');
    return c;
  }

  async function run(c: RawClient, ...args: string[]): Promise<{ bytes: Buffer; node: RespNode }> {
    c.send(encodeCommand(args));
    const bytes = await c.frame();
    return { bytes, node: decodeReply(bytes) };
  }

  const proxiesNamed = (bytes: Buffer) =>
    [...bytes.toString('latin1').matchAll(/127\.0\.0\.1:(\d+)/g)]
      .map((m) => Number(m[1]))
      .filter((p) => proxyPorts.has(p));

  for (const protocol of [2, 3] as const) {
    describe(`RESP${protocol}`, () => {
      const shaped = [
        { what: 'cluster nodes', script: "return redis.call('cluster','nodes')", type: RespType.BulkString },
        {
          what: 'cluster nodes (setresp 3)',
          script: "redis.setresp(3); return redis.call('cluster','nodes')",
          type: protocol === 3 ? RespType.Verbatim : RespType.BulkString,
        },
        { what: 'cluster slots', script: "return redis.call('cluster','slots')", type: RespType.Array },
        { what: 'cluster shards', script: "return redis.call('cluster','shards')", type: RespType.Array },
        {
          what: 'cluster shards (setresp 3)',
          script: "redis.setresp(3); return redis.call('cluster','shards')",
          type: RespType.Array,
        },
      ];
      for (const s of shaped) {
        it(`EVAL of ${s.what} names the proxies`, async () => {
          const c = await client(protocol);
          const { bytes, node } = await run(c, 'EVAL', s.script, '0');
          expect(node.type).toBe(s.type);
          expect(leaksIn(bytes, nodes)).toEqual([]);
          if (s.what.includes('nodes')) expect(proxiesNamed(bytes).length).toBeGreaterThan(0);
          else expect(fleet.ports.some((p) => bytes.includes(`:${p}\r\n`))).toBe(true);
        });
      }

      it('EVAL of info replication, on a master and on a replica, names the proxies', async () => {
        for (let i = 0; i < fleet.ports.length; i++) {
          const c = await client(protocol, i);
          const { bytes } = await run(c, 'EVAL', "return redis.call('info','replication')", '0');
          expect(bytes.toString('latin1')).toMatch(/role:(master|slave)/);
          expect(leaksIn(bytes, nodes), `proxy ${i}`).toEqual([]);
        }
      });

      it('FCALL of library functions: nodes and shards rewritten, an embedded endpoint refused', async () => {
        const c = await client(protocol, masterProxy);
        expect((await run(c, 'FUNCTION', 'LOAD', 'REPLACE', LIBRARY)).node.type).not.toBe(RespType.Error);
        for (const [fn, expectError] of [
          ['sr_nodes', false],
          ['sr_shards', false],
          ['sr_embedded', true],
        ] as const) {
          for (const cmd of fn === 'sr_nodes' ? ['FCALL', 'FCALL_RO'] : ['FCALL']) {
            const { bytes, node } = await run(c, cmd, fn, '0');
            if (expectError) expect(node.text, fn).toBe(ERROR);
            else expect(leaksIn(bytes, nodes), fn).toEqual([]);
          }
        }
        await run(c, 'FUNCTION', 'DELETE', 'srleaks');
      });

      it('a script returning a node endpoint inside a string, or a bus port, or host and port apart, gets the error', async () => {
        const c = await client(protocol);
        const n = nodes[0]!;
        const scripts = [
          `return 'x ${n.host}:${n.port} y'`,
          `return '${n.host}:${n.cport}'`,
          `return {'${n.host}', ${n.port}}`,
          "local t = redis.call('info','replication'); return 'prefix ' .. t",
          `return redis.error_reply('oops ${n.host}:${n.port}')`,
        ];
        for (const script of scripts) {
          const { node } = await run(c, 'EVAL', script, '0');
          expect(node.text, script).toBe(ERROR);
        }
        const sha = String((await run(c, 'SCRIPT', 'LOAD', scripts[0]!)).node.data);
        for (const cmd of ['EVALSHA', 'EVALSHA_RO']) expect((await run(c, cmd, sha, '0')).node.text).toBe(ERROR);
        expect((await run(c, 'EVAL_RO', scripts[0]!, '0')).node.text).toBe(ERROR);
      });

      it('a plain script passes untouched, and so does a host without a port', async () => {
        const c = await client(protocol);
        expect((await run(c, 'EVAL', "return {1, 'two', ARGV[1]}", '0', 'three')).bytes.toString('latin1')).toBe(
          '*3\r\n:1\r\n$3\r\ntwo\r\n$5\r\nthree\r\n',
        );
        expect((await run(c, 'EVAL', `return '${nodes[0]!.host} only'`, '0')).node.data!.toString()).toBe(
          `${nodes[0]!.host} only`,
        );
      });

      it('in MULTI: the EXEC array holds the rewritten and the refused replies in place', async () => {
        const c = await client(protocol);
        const n = nodes[0]!;
        await run(c, 'MULTI');
        await run(c, 'EVAL', "return redis.call('cluster','nodes')", '0');
        await run(c, 'EVAL', `return 'x ${n.host}:${n.port}'`, '0');
        await run(c, 'EVAL', "return 'plain'", '0');
        const { bytes, node } = await run(c, 'EXEC');
        expect(leaksIn(bytes, nodes)).toEqual([]);
        expect(node.items![1]!.text).toBe(ERROR);
        expect(node.items![2]!.data!.toString()).toBe('plain');
        expect(proxiesNamed(node.items![0]!.data!).length).toBeGreaterThan(0);
      });
    });
  }
});
