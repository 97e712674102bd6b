import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type Middleware, encodeSimple } from '@slotrelay/core';
import { sessionHarness } from '@slotrelay/testkit';

/** Answers CLUSTER locally with the arguments it was given, so the test sees what a middleware sees. */
const echoCluster: Middleware = {
  name: 'echo-cluster',
  commands: ['CLUSTER', 'LOCALPING'],
  requests: (s) =>
    map((b) => {
      for (let i = 0; i < b.count; i++) {
        const f = b.frames[i]!;
        if (f.command !== undefined)
          s.answer(f, encodeSimple(`${f.command}:${f.argc}:${f.args().map(String).join('|')}`));
      }
      return b;
    }),
};

// Issue 13: the proxy matched the raw first word of an inline line, so `"cluster" nodes` reached
// Redis unrecognised and its reply passed unrewritten.
describe('session: inline commands are matched once decoded as Redis decodes them', () => {
  for (const line of [
    '"cluster" nodes',
    '"\\x63luster" nodes',
    "'CLUSTER' nodes",
    'clu"ster" "nodes"',
    '\x0b\x0c cluster\tnodes',
  ]) {
    it(`${JSON.stringify(line)} is CLUSTER NODES, with decoded arguments`, async () => {
      const h = await sessionHarness({ middleware: [echoCluster] });
      h.clientSends(`${line}\r\n`);
      expect(h.toClient().toLowerCase()).toBe('+cluster:2:cluster|nodes\r\n');
      expect(h.toRedis()).toBe('');
    });
  }

  it('a line of \\v and \\f is blank to Redis (no reply): it takes no place in the reply order', async () => {
    const h = await sessionHarness({ middleware: [echoCluster] });
    h.clientSends('\x0b\r\n\x0c \x0b\r\nPING\r\nLOCALPING\r\n');
    h.redisSends('+PONG\r\n');
    expect(h.toClient()).toBe('+PONG\r\n+LOCALPING:1:LOCALPING\r\n');
  });

  it("unbalanced quotes: the replies due, then Redis's protocol error, and nothing more goes to Redis", async () => {
    const h = await sessionHarness({ middleware: [echoCluster] });
    h.clientSends('PING\r\n"cluster nodes\r\nPING\r\n');
    h.redisSends('+PONG\r\n');
    expect(h.toRedis()).toBe('PING\r\n');
    expect(h.toClient()).toBe('+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n');
  });
});
