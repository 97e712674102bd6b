import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedUpstream, type SharedUser } from '../src/upstream/shared-upstream.js';

// Issue 16: one connection, many sessions. A fake Redis (a socket on 127.0.0.1:0) answers with a
// scripted byte stream cut wherever the test says; each user must get exactly its replies, in order.

class User implements SharedUser {
  pending = 0;
  got: Buffer[] = [];
  lostWith: Buffer | null | undefined = undefined;
  deliver(bytes: Buffer): boolean {
    this.got.push(Buffer.from(bytes));
    return false;
  }
  lost(error: Buffer | null): void {
    this.lostWith = error;
  }
  pressure(): void {}
  tooSlow(): void {}
  text(): string {
    return Buffer.concat(this.got).toString('latin1');
  }
}

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A fake Redis: waits for `requestBytes`, then sends `replies` cut into `pieces`, one write each. */
async function fakeRedis(
  requestBytes: number,
  reply: (received: string) => Buffer[],
): Promise<{ port: number; received: () => string }> {
  let received = '';
  const server = net.createServer((sock) => {
    sock.on('data', (d) => {
      const before = received.length;
      received += d.toString('latin1');
      if (before < requestBytes && received.length >= requestBytes) {
        void (async () => {
          for (const piece of reply(received)) {
            sock.write(piece);
            await new Promise((r) => setTimeout(r, 1));
          }
        })();
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
  });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('SharedUpstream', () => {
  const A = Buffer.from('*1\r\n$4\r\nPING\r\n');
  const REPLIES = '+PONG\r\n$5\r\nhello\r\n*2\r\n:1\r\n$2\r\nab\r\n-ERR x\r\n+OK\r\n';
  // In FIFO order: a gets 1, b gets 2, a gets 2 (the stream above holds 5 replies).
  const FOR_A = '+PONG\r\n-ERR x\r\n+OK\r\n';
  const FOR_B = '$5\r\nhello\r\n*2\r\n:1\r\n$2\r\nab\r\n';

  it('routes replies by the (user, count) FIFO, the stream cut at every byte', async () => {
    for (let cut = 1; cut < REPLIES.length; cut += 3) {
      const redis = await fakeRedis(5 * A.length, () => [
        Buffer.from(REPLIES.slice(0, cut)),
        Buffer.from(REPLIES.slice(cut)),
      ]);
      const conn = new SharedUpstream(() => {}, 1 << 20);
      const a = new User();
      const b = new User();
      conn.append(a, [A], 1);
      conn.append(b, [A, A], 2);
      conn.append(a, [A, A], 2);
      conn.attach(await connect(redis.port), []);
      await until(() => a.pending === 0 && b.pending === 0);
      expect(a.text()).toBe(FOR_A);
      expect(b.text()).toBe(FOR_B);
      // One write of everything appended, in order.
      expect(redis.received()).toBe(Buffer.concat([A, A, A, A, A]).toString('latin1'));
      conn.close();
    }
  });

  it('answers the handshake first; an AUTH refused is told to users with its exact error', async () => {
    const auth = Buffer.from('*2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n');
    const refused = '-WRONGPASS invalid username-password pair or user is disabled.\r\n';
    const redis = await fakeRedis(auth.length, () => [Buffer.from(refused)]);
    const conn = new SharedUpstream(() => {}, 1 << 20);
    const a = new User();
    conn.append(a, [A], 1);
    conn.attach(await connect(redis.port), [auth]);
    await until(() => a.lostWith !== undefined);
    expect(a.lostWith!.toString('latin1')).toBe(refused);
    expect(conn.dead).toBe(true);
    // Nothing of the user's was written on a connection in the wrong state.
    expect(redis.received()).toBe(auth.toString('latin1'));
  });

  it('a connection that closes tells exactly the users still owed replies', async () => {
    const redis = await fakeRedis(2 * A.length, () => [Buffer.from('+PONG\r\n')]);
    const ended: string[] = [];
    const conn = new SharedUpstream((_c, why) => ended.push(why), 1 << 20);
    const a = new User();
    const b = new User();
    conn.append(a, [A], 1);
    conn.append(b, [A], 1);
    conn.attach(await connect(redis.port), []);
    await until(() => a.pending === 0);
    servers[0]!.close();
    conn.close();
    expect(a.lostWith).toBeUndefined();
    expect(b.lostWith).toBeNull();
    expect(ended).toEqual(['closed']);
  });
});
