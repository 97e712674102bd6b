import net from 'node:net';

/** A TCP forwarder on `127.0.0.1:port` to `target`: a seed that starts answering when the test says so. */
export interface Forwarder {
  /** Close the server and every connection it forwards. */
  close(): Promise<void>;
}

export async function startForwarder(port: number, target: { host: string; port: number }): Promise<Forwarder> {
  const open = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const up = net.connect(target.port, target.host);
    open.add(c).add(up);
    c.pipe(up).pipe(c);
    const done = () => {
      c.destroy();
      up.destroy();
      open.delete(c);
      open.delete(up);
    };
    c.on('error', done).on('close', done);
    up.on('error', done).on('close', done);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
