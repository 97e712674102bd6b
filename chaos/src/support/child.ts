import { type ChildProcess, spawn } from 'node:child_process';

/** A stdout line that parsed as JSON and carries a `type` (the protocol of the chaos helper children). */
export interface Message {
  readonly type: string;
  readonly [k: string]: unknown;
}

/**
 * A child process that talks JSON lines: every stdout line with a `type` is a {@link Message};
 * other output (a proxy's log, stderr) is kept as a bounded tail for error reports. Stopped by PID.
 */
export class Child {
  readonly messages: Message[] = [];
  /** Last 200 lines of output that were not messages. */
  readonly tail: string[] = [];
  private readonly proc: ChildProcess;
  private readonly consumed = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private exitText: string | undefined;

  /** Start `argv` (a namespace prefix may lead it) with stdin piped, so the child can see the parent go. */
  constructor(
    readonly name: string,
    argv: string[],
    env: NodeJS.ProcessEnv = {},
  ) {
    this.proc = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdin!.on('error', () => {}); // a child that exited must not take the parent with it (EPIPE)
    this.proc.on('error', (e) => this.exited(`cannot start: ${e.message}`));
    // 'close' rather than 'exit': its last output has been read by then, and goes into the error.
    this.proc.on('close', (code, sig) => this.exited(`exited (${code ?? sig})`));
    let rest = '';
    this.proc.stdout!.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) this.line(l);
    });
    let errRest = '';
    this.proc.stderr!.on('data', (b: Buffer) => {
      const lines = (errRest + b.toString()).split('\n');
      errRest = lines.pop()!;
      for (const l of lines) this.keep(l);
    });
  }

  private line(l: string): void {
    if (l.startsWith('{')) {
      try {
        const m = JSON.parse(l) as Message;
        if (typeof m.type === 'string') {
          this.messages.push(m);
          this.wakeAll();
          return;
        }
      } catch {
        // not a message: keep as output
      }
    }
    this.keep(l);
  }

  private keep(l: string): void {
    if (!l) return;
    this.tail.push(l);
    if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
  }

  private exited(text: string): void {
    this.exitText ??= text;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The PID, while the process runs. */
  get pid(): number | undefined {
    return this.running ? this.proc.pid : undefined;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && this.exitText === undefined;
  }

  /** Every message of `type` received so far. */
  all<T extends Message>(type: string): T[] {
    return this.messages.filter((m) => m.type === type) as T[];
  }

  /**
   * The next message of `type` not yet taken by `next`. Rejects when the child reports
   * `{ type: 'error' }`, exits first, or after `timeoutMs`, with the tail of its output.
   */
  async next<T extends Message>(type: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const from = this.consumed.get(type) ?? 0;
      const i = this.messages.findIndex((m, k) => k >= from && m.type === type);
      if (i >= 0) {
        this.consumed.set(type, i + 1);
        return this.messages[i] as T;
      }
      const err = this.messages.find((m) => m.type === 'error');
      if (err) throw new Error(`${this.name}: ${String(err.message)}`);
      if (this.exitText !== undefined)
        throw new Error(`${this.name} ${this.exitText} before '${type}': ${this.tail.slice(-8).join(' | ')}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${this.name}: no '${type}' after ${timeoutMs} ms: ${this.tail.slice(-8).join(' | ')}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Write one line to the child's stdin. */
  send(line: string): void {
    if (this.running) this.proc.stdin!.write(`${line}\n`);
  }

  /** `signal` (default SIGTERM) by PID, SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null || this.proc.pid === undefined) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }

  /** SIGKILL by PID, without waiting (for exit handlers). */
  killNow(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
