import { describe, expect, it } from 'vitest';
import { Child } from '../src/support/child.js';

const node = (script: string) => [process.execPath, '-e', script];

describe('a JSON-lines child', () => {
  it('hands out messages by type, in order, each once, and keeps other output as its tail', async () => {
    const c = new Child(
      't',
      node(`
      console.log('not json');
      console.log(JSON.stringify({ type: 'a', n: 1 }));
      console.log(JSON.stringify({ type: 'b', n: 2 }));
      console.log(JSON.stringify({ type: 'a', n: 3 }));
      process.stdin.on('data', (d) => { console.log(JSON.stringify({ type: 'echo', line: String(d).trim() })); process.exit(0); });
    `),
    );
    expect((await c.next('a', 10_000)).n).toBe(1);
    expect((await c.next('a', 10_000)).n).toBe(3);
    expect((await c.next('b', 10_000)).n).toBe(2);
    c.send('hello');
    expect((await c.next('echo', 10_000)).line).toBe('hello');
    expect(c.tail).toContain('not json');
    expect(c.all('a')).toHaveLength(2);
  });

  it("rejects with the child's own error message", async () => {
    const c = new Child(
      't',
      node(`console.log(JSON.stringify({ type: 'error', message: 'no cluster' })); setTimeout(() => {}, 10_000);`),
    );
    await expect(c.next('ready', 10_000)).rejects.toThrow('t: no cluster');
    await c.stop();
    expect(c.running).toBe(false);
  });

  it('rejects when the child exits first, with its exit and its last output', async () => {
    const c = new Child('t', node(`console.error('boom'); process.exit(3);`));
    await expect(c.next('ready', 10_000)).rejects.toThrow(/t exited \(3\) before 'ready': boom/);
  });

  it('stop() ends a child that ignores SIGTERM with SIGKILL after the grace time', async () => {
    const c = new Child(
      't',
      node(
        `process.on('SIGTERM', () => {}); console.log(JSON.stringify({ type: 'up' })); setInterval(() => {}, 1000);`,
      ),
    );
    await c.next('up', 10_000);
    await c.stop('SIGTERM', 200);
    expect(c.running).toBe(false);
    expect(c.pid).toBeUndefined();
  });
});
