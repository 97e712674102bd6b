import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

interface Registry {
  readonly children: Set<ChildProcess>;
  readonly dirs: Set<string>;
  readonly killAll: () => void;
  installed: boolean;
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function createRegistry(): Registry {
  const children = new Set<ChildProcess>();
  const dirs = new Set<string>();
  const killAll = (): void => {
    for (const child of children) {
      if (isRunning(child)) {
        try {
          child.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    children.clear();
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
    dirs.clear();
  };
  return { children, dirs, killAll, installed: false };
}

// One registry (and one 'exit' listener) per process, even when test runners load this module
// several times in the same process.
const KEY = Symbol.for('@slotrelay/local-cluster/process-registry');
const holder = globalThis as typeof globalThis & { [KEY]?: Registry };
const registry: Registry = (holder[KEY] ??= createRegistry());

/**
 * Last-resort cleanup, registered as a process 'exit' listener: SIGKILLs every tracked child
 * still running and removes the tracked temp dirs. Synchronous, as 'exit' listeners must be.
 */
export const killTrackedSync: () => void = registry.killAll;

function install(): void {
  if (registry.installed) return;
  registry.installed = true;
  process.on('exit', registry.killAll);
}

/** Tracks a redis-server child so that it is SIGKILLed if the process exits before it is stopped. */
export function trackChild(child: ChildProcess): void {
  install();
  registry.children.add(child);
  child.once('exit', () => registry.children.delete(child));
}

/** Forgets a child (after it was stopped). */
export function untrackChild(child: ChildProcess): void {
  registry.children.delete(child);
}

/** Tracks a temp dir that is removed on process exit unless {@link untrackDir} is called first. */
export function trackDir(dir: string): void {
  install();
  registry.dirs.add(dir);
}

/** Forgets a temp dir (after it was removed). */
export function untrackDir(dir: string): void {
  registry.dirs.delete(dir);
}

/** True while the child has neither exited nor been killed by a signal. */
export function childRunning(child: ChildProcess): boolean {
  return isRunning(child);
}
