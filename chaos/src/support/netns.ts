import { execFileSync } from 'node:child_process';

/**
 * Network namespaces for a multi-host fleet on one machine. Every namespace, bridge, veth and
 * 198.18 address lives inside namespaces this module made (named `sr<pid><role>`); the root
 * namespace gets nothing, so a run can never disturb the machine's own networking.
 *
 * The layout: one namespace (`…net`) holds a bridge, the "switch"; every host namespace is
 * plugged into it by a veth pair whose switch end is `v<role>` and whose host end is `eth0`, all
 * on 198.18.0.0/24 (RFC 2544's benchmarking range, never routed). Pulling a host's cable is
 * `ip link set v<role> down` in the switch namespace.
 */

/** Name prefix of this process's namespaces; the pid makes it unique per run and lets a later run tell a stale one. */
const PREFIX = `sr${process.pid}`;
const OURS = /^sr(\d+)(net|probe|redis|cli|p\d+)$/;
const SUBNET_BITS = 24;

/** A host plugged into the switch: `role` names it (`redis`, `cli`, `p1`…), `address` is its 198.18 address. */
export interface NetnsHost {
  readonly role: string;
  readonly address: string;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function errorText(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr?.trim() || err.message || String(e)).split('\n')[0]!;
}

/** Names of all network namespaces (`ip netns list` prints `name (id: n)` lines). */
function listNamespaces(): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Why namespaces cannot be used here (not root, no `ip`, `ip netns add` refused), or undefined
 * when they can. Tries a real `ip netns add` (and removes it), since containers often lack the
 * capability even as uid 0.
 */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'network namespaces need root (ip netns add); run as root to include this scenario';
  try {
    ip(['-V']);
  } catch (e) {
    return `the ip command (iproute2) is not usable: ${errorText(e)}`;
  }
  const probe = `${PREFIX}probe`;
  try {
    // A leftover of an earlier run that had this pid would make the add fail.
    if (listNamespaces().includes(probe)) ip(['netns', 'del', probe]);
    ip(['netns', 'add', probe]);
  } catch (e) {
    return `ip netns add failed: ${errorText(e)}`;
  }
  try {
    ip(['netns', 'del', probe]);
  } catch {
    // removed with the lab's own sweep at worst
  }
  return undefined;
}

/**
 * Remove namespaces of this module's pattern whose owning process is gone (a run killed with
 * SIGKILL cannot clean up). Processes still inside them were started by that run (its Redis
 * nodes, proxies, clients): they are killed by PID first. Call it before building a lab: names
 * with this process's own pid then come from an earlier run that had the same pid, and go too.
 * Returns the names removed.
 */
export function sweepStaleNamespaces(): string[] {
  let names: string[];
  try {
    names = listNamespaces();
  } catch {
    return [];
  }
  const stale = names.filter((n) => {
    const m = OURS.exec(n);
    return m !== null && (Number(m[1]) === process.pid || !pidAlive(Number(m[1])));
  });
  for (const ns of stale) {
    try {
      for (const pid of ip(['netns', 'pids', ns]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const ns of stale) {
    try {
      ip(['netns', 'del', ns]);
    } catch {
      // gone meanwhile
    }
  }
  return stale;
}

/** A switch namespace and the host namespaces plugged into it. Always {@link NetnsLab.destroy} it once built. */
export class NetnsLab {
  private readonly made: string[] = [];

  /** Checks the plan; nothing is made until {@link NetnsLab.build}. */
  constructor(readonly hosts: readonly NetnsHost[]) {
    for (const h of hosts) {
      // The root namespace must never see these addresses; a typo must not leak a real one either.
      if (!h.address.startsWith('198.18.') && !h.address.startsWith('198.19.'))
        throw new Error(`netns: ${h.address} is outside 198.18.0.0/15`);
      if (!/^[a-z0-9]{1,8}$/.test(h.role) || h.role === 'net')
        throw new Error(`netns: bad role ${JSON.stringify(h.role)}`);
    }
  }

  /** The namespace of host `role` (or of the switch, `net`). */
  static ns(role: string): string {
    return `${PREFIX}${role}`;
  }

  /**
   * Make the switch and one namespace per host, each with `lo` up and `eth0` holding its address.
   * Each namespace is recorded as soon as it exists, so {@link NetnsLab.destroy} (also from a
   * signal handler registered before this call) removes a half-built lab; on a failure here it
   * is removed before the error is thrown.
   */
  build(): void {
    try {
      const sw = NetnsLab.ns('net');
      this.add(sw);
      ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', sw, 'link', 'set', 'br0', 'up']);
      for (const h of this.hosts) {
        const ns = NetnsLab.ns(h.role);
        this.add(ns);
        ip(['-n', sw, 'link', 'add', `v${h.role}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        ip(['-n', sw, 'link', 'set', `v${h.role}`, 'master', 'br0', 'up']);
        ip(['-n', ns, 'link', 'set', 'lo', 'up']);
        ip(['-n', ns, 'addr', 'add', `${h.address}/${SUBNET_BITS}`, 'dev', 'eth0']);
        ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      }
    } catch (e) {
      this.destroy();
      throw new Error(`netns: cannot build the network: ${errorText(e)}`, { cause: e });
    }
  }

  private add(ns: string): void {
    ip(['netns', 'add', ns]);
    this.made.push(ns);
  }

  /** The command prefix that runs a program inside host `role`'s namespace. */
  exec(role: string): string[] {
    return ['ip', 'netns', 'exec', NetnsLab.ns(role)];
  }

  /** Pull (`false`) or plug back (`true`) host `role`'s cable at the switch. */
  setLink(role: string, up: boolean): void {
    ip(['-n', NetnsLab.ns('net'), 'link', 'set', `v${role}`, up ? 'up' : 'down']);
  }

  /**
   * Remove every namespace this lab made (their veths and the bridge go with them). Synchronous,
   * so it also serves signal and exit handlers. Processes still inside keep their namespace alive
   * but nameless: stop them first.
   */
  destroy(): void {
    for (const ns of this.made.splice(0).reverse()) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  }
}
