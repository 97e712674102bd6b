import { readFile, readdir, readlink } from 'node:fs/promises';

/**
 * The remote ports of the established outgoing TCP connections of a local process (`pid`), read from
 * /proc (Linux only). "Outgoing" means the local port is not one of `ownPorts` (the ports the process
 * listens on). Used to see where a redis-server connects by itself, e.g. for MIGRATE.
 */
export async function outgoingPeerPorts(pid: number, ownPorts: readonly number[]): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(m[1]!);
  }
  const out: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const row of text.split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '01' || !inodes.has(f[9]!)) continue; // 01: ESTABLISHED
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      if (!ownPorts.includes(local)) out.push(remote);
    }
  }
  return out;
}

/**
 * How many open file descriptors of a local process are sockets of any kind and state. Unlike the
 * TCP table, this also sees a socket whose connection is over but that nobody closed (a leak).
 */
export async function socketFds(pid: number): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')).startsWith('socket:')) n++;
  }
  return n;
}
