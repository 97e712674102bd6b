import net from 'node:net';

/** Cluster bus port offset used by Redis (bus port = client port + 10000). */
export const BUS_PORT_OFFSET = 10000;
/** Lowest port handed out. */
const MIN_PORT = 12000;
/** Random starting points are drawn below this. */
const MAX_BASE = 22000;
/**
 * Highest port handed out: port + 10000 must stay below 32768, the start of the ephemeral range,
 * or a bus port can collide with the local port of an outgoing connection.
 */
const MAX_PORT = 32767 - BUS_PORT_OFFSET;

/** Ports handed out by this process and not released yet (so concurrent clusters in one process never collide). */
const reserved = new Set<number>();

/**
 * `n` ports that were free a moment ago on `host` (bound to :0 by the kernel, then released): for
 * proxies and other listeners in tests, not for Redis nodes (whose bus port needs
 * {@link allocatePorts}).
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, host, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Resolves true when `port` can be bound on `host` right now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Finds `count` ports on `host` such that each port and (when `withBus`) port + 10000 are free and
 * below 32768, starting at a random base in 12000–22000. The ports stay reserved in this process
 * until {@link releasePorts}.
 */
export async function allocatePorts(host: string, count: number, withBus = true): Promise<number[]> {
  const out: number[] = [];
  const span = MAX_PORT - MIN_PORT + 1;
  let candidate = MIN_PORT + Math.floor(Math.random() * (MAX_BASE - MIN_PORT));
  for (let tried = 0; out.length < count; tried++) {
    if (tried >= span) {
      releasePorts(out);
      throw new Error(
        `No free port pair (port and port+${BUS_PORT_OFFSET}) between ${MIN_PORT} and ${MAX_PORT} on ${host}`,
      );
    }
    const port = candidate;
    candidate = candidate >= MAX_PORT ? MIN_PORT : candidate + 1;
    // Skip ports this process already handed out, as a client port or as a bus port.
    if (reserved.has(port) || reserved.has(port + BUS_PORT_OFFSET) || reserved.has(port - BUS_PORT_OFFSET)) continue;
    reserved.add(port);
    const ok = (await canBind(host, port)) && (!withBus || (await canBind(host, port + BUS_PORT_OFFSET)));
    if (ok) out.push(port);
    else reserved.delete(port);
  }
  return out;
}

/** Returns ports obtained from {@link allocatePorts}. */
export function releasePorts(ports: Iterable<number>): void {
  for (const p of ports) reserved.delete(p);
}
