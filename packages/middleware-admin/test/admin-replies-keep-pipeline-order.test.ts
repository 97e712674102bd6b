import { describe, expect, it } from 'vitest';
import type { AddressMap } from '@slotrelay/core';
import { chunkings } from '@slotrelay/testkit';
import {
  HELLO3_REPLY,
  adminHarness,
  bulk,
  cmd,
  mapOf,
  statusText,
  stubTopology,
  verbatim,
} from './support/fixtures.js';

describe('admin replies keep pipeline order', () => {
  it('SET + admin + GET in one chunk: only SET and GET reach Redis, replies come back in order', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('SET', 'k', 'v') + cmd('GALLIUMDATA', 'STATUSCLUSTER') + cmd('GET', 'k'));
    expect(h.toRedis()).toBe(cmd('SET', 'k', 'v') + cmd('GET', 'k'));
    expect(h.toClient()).toBe(''); // the admin reply waits for SET's
    h.redisSends('+OK\r\n');
    expect(h.toClient()).toBe('+OK\r\n' + bulk(statusText(1)));
    h.redisSends('$1\r\nv\r\n');
    expect(h.toClient()).toBe('+OK\r\n' + bulk(statusText(1)) + '$1\r\nv\r\n');
  });

  it('keeps order with the admin request split anywhere, inline or RESP', async () => {
    for (const admin of [cmd('GALLIUMDATA', 'STATUSCLUSTER'), 'slotrelay statuscluster\r\n']) {
      const bytes = Buffer.from(cmd('SET', 'k', 'v') + admin + cmd('GET', 'k'), 'latin1');
      for (const { label, chunks } of chunkings(bytes)) {
        const h = await adminHarness();
        h.clientSends(...chunks);
        expect(h.toRedis(), label).toBe(cmd('SET', 'k', 'v') + cmd('GET', 'k'));
        h.redisSends('+OK\r\n$1\r\nv\r\n');
        expect(h.toClient(), label).toBe('+OK\r\n' + bulk(statusText(1)) + '$1\r\nv\r\n');
      }
    }
  });

  it('a SCANCLUSTER whose rescan is slow keeps later replies behind it', async () => {
    let finish!: (m: AddressMap) => void;
    const topology = stubTopology({ scan: () => new Promise<AddressMap>((r) => (finish = r)) });
    const h = await adminHarness({ topology });
    h.clientSends(
      cmd('GET', 'a') + cmd('GALLIUMDATA', 'SCANCLUSTER') + cmd('GET', 'b') + cmd('SLOTRELAY', 'AUTH', 'x'),
    );
    expect(h.toRedis()).toBe(cmd('GET', 'a') + cmd('GET', 'b'));
    h.redisSends('$1\r\nA\r\n$1\r\nB\r\n');
    await h.settle();
    expect(h.toClient()).toBe('$1\r\nA\r\n'); // B and the AUTH error wait for the scan
    finish(mapOf());
    await h.settle();
    expect(h.toClient()).toBe(
      '$1\r\nA\r\n+OK 4 nodes found in cluster\r\n$1\r\nB\r\n-ERR SLOTRELAY AUTH called without any adminPassword configured\r\n',
    );
  });

  it('answers in RESP2 form while a HELLO 3 pipelined before it is unanswered, in RESP3 form after', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('HELLO', '3') + cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    h.redisSends(HELLO3_REPLY);
    // A bulk string is a valid RESP3 reply too; `=` would not have been valid had HELLO failed.
    expect(h.toClient()).toBe(HELLO3_REPLY + bulk(statusText(1)));
    h.clientSends(cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    expect(h.toClient()).toBe(HELLO3_REPLY + bulk(statusText(1)) + verbatim(statusText(1)));
  });

  it('never sends = to a RESP3 client that switches back with HELLO 2 in the same pipeline', async () => {
    const h = await adminHarness();
    h.clientSends(cmd('HELLO', '3'));
    h.redisSends(HELLO3_REPLY);
    h.clientSends(cmd('HELLO', '2') + cmd('GALLIUMDATA', 'STATUSCLUSTER'));
    h.redisSends('*2\r\n$6\r\nserver\r\n$5\r\nredis\r\n');
    expect(h.session.protocol).toBe(2);
    expect(h.toClient().endsWith('*2\r\n$6\r\nserver\r\n$5\r\nredis\r\n' + bulk(statusText(1)))).toBe(true);
  });
});
