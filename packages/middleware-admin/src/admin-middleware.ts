import { timingSafeEqual } from 'node:crypto';
import { inject, injectable, optional } from 'inversify';
import { type MonoTypeOperatorFunction, map } from 'rxjs';
import {
  type AddressMap,
  type Batch,
  COMPLETE,
  FleetControl,
  type Frame,
  ListenerCounters,
  Logger,
  type Middleware,
  type Protocol,
  type SessionContext,
  SlotrelayConfig,
  TopologyServiceToken,
  type TopologyService,
  countIn,
  encodeError,
  encodeReply,
  node,
} from '@slotrelay/core/internal';
import { adminAccessError, checkAdminPassword, passwordDigest } from './admin-auth.js';
import { formatConfigJson, opsForLog, parseConfigPatch } from './config-commands.js';
import { formatStatusCluster } from './format-status-cluster.js';
import {
  ADMIN_COMMAND_NAMES,
  type AdminAlias,
  type AdminCommand,
  adminHelpLines,
  isAdminParseError,
  parseAdminCommand,
} from './parse-admin-command.js';

/** What one session's admin commands remember. */
interface AdminSessionState {
  /** HELLO/RESET requests whose replies have not come back yet: the protocol may be about to change. */
  pendingProtocolChanges: number;
  /** SHA-256 of the password this session authenticated with; null when not authenticated (or after RESET). */
  authDigest: Buffer | null;
}

/** The mark on HELLO/RESET requests, to see their replies go by. */
const PROTOCOL_CHANGE = Symbol('slotrelay admin: protocol change');

const errorText = (e: unknown): string => {
  const m = e instanceof Error ? e.message : String(e);
  return m.startsWith('ERR ') ? m.slice(4) : m;
};

/** Calls `fn`, turning a synchronous throw into a rejection. */
const attempt = <T>(fn: () => Promise<T>): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/**
 * Answers `GALLIUMDATA …` / `SLOTRELAY …` admin commands itself (they never reach Redis): cluster
 * rescans and mapping status as in Gallium Data's RedisCluster connector, plus reading and patching
 * the running config. Replies take the request's place in the pipeline order and are encoded in the
 * session's protocol. Writes need `adminPassword` in the config and `GALLIUMDATA AUTH` on the
 * connection (SCANCLUSTER too once `adminPassword` is set); reads too when `adminReadsRequireAuth`
 * is set. AUTH lasts until RESET, a failed AUTH, a change of `adminPassword` or the connection's
 * end. Every write, accepted or refused, and every failed AUTH is logged with the client address.
 */
@injectable()
export class AdminMiddleware implements Middleware {
  readonly name = '@slotrelay/middleware-admin';
  // HELLO and RESET: their replies may change the protocol admin replies must be encoded in.
  readonly commands: readonly string[] = [...ADMIN_COMMAND_NAMES, 'RESET', 'HELLO'];
  private readonly sessions = new WeakMap<SessionContext, AdminSessionState>();

  constructor(
    @inject(TopologyServiceToken) private readonly topology: TopologyService,
    @inject(SlotrelayConfig) private readonly config: SlotrelayConfig,
    @inject(Logger) private readonly log: Logger,
    @inject(FleetControl) @optional() private readonly control?: FleetControl,
    @inject(ListenerCounters) @optional() private readonly counters?: ListenerCounters,
  ) {}

  requests(s: SessionContext): MonoTypeOperatorFunction<Batch> {
    const st = this.stateOf(s);
    return map((b) => {
      if (b.interesting === 0) return b;
      for (let i = 0; i < b.count; i++) {
        const f = b.frames[i]!;
        if (f.command === undefined || f.kind !== COMPLETE || f.dropped) continue;
        switch (f.command) {
          case 'GALLIUMDATA':
          case 'SLOTRELAY':
            s.answer(f, this.answer(s, st, f));
            break;
          case 'RESET':
            this.clearAuth(s, st);
            this.watchProtocolChange(s, st, f);
            break;
          case 'HELLO':
            this.watchProtocolChange(s, st, f);
            break;
        }
      }
      return b;
    });
  }

  replies(s: SessionContext): MonoTypeOperatorFunction<Batch> {
    const st = this.stateOf(s);
    return map((b) => {
      if (b.marked === 0 || st.pendingProtocolChanges === 0) return b;
      for (let i = 0; i < b.count; i++) {
        if (s.markOf(b.frames[i]!) === PROTOCOL_CHANGE) st.pendingProtocolChanges--;
      }
      return b;
    });
  }

  private stateOf(s: SessionContext): AdminSessionState {
    let st = this.sessions.get(s);
    if (st === undefined) {
      st = { pendingProtocolChanges: 0, authDigest: null };
      this.sessions.set(s, st);
    }
    return st;
  }

  /**
   * Core switches `s.protocol` only when the reply to HELLO/RESET arrives, so an admin command
   * pipelined behind one is answered before we know the protocol its reply will be read in.
   */
  private watchProtocolChange(s: SessionContext, st: AdminSessionState, f: Frame): void {
    s.mark(f, PROTOCOL_CHANGE);
    // No mark sticks when no reply is expected (CLIENT REPLY OFF/SKIP): then nothing is pending.
    if (s.markOf(f) === PROTOCOL_CHANGE) st.pendingProtocolChanges++;
  }

  /**
   * RESET clears admin AUTH as Redis's RESET clears its AUTH, at the RESET's place in the pipeline:
   * an admin command sent after it is not authenticated, one sent before it still is. Redis's RESET
   * is never queued by MULTI, so this holds inside a transaction too.
   */
  private clearAuth(s: SessionContext, st: AdminSessionState): void {
    if (st.authDigest === null) return;
    st.authDigest = null;
    this.log.info(who(s), 'admin AUTH cleared by RESET');
  }

  private authenticated(st: AdminSessionState): boolean {
    const password = this.config.adminPassword;
    // Compared with the password of now, so changing adminPassword revokes earlier AUTHs.
    return st.authDigest !== null && !!password && timingSafeEqual(st.authDigest, passwordDigest(password));
  }

  /** The reply to one admin request. Never throws and never rejects: failures are `-ERR` replies. */
  private answer(s: SessionContext, st: AdminSessionState, f: Frame): Buffer | Promise<Buffer> {
    const alias: AdminAlias = f.command === 'SLOTRELAY' ? 'SLOTRELAY' : 'GALLIUMDATA';
    try {
      // Redis never sees the command, so it cannot be queued: EXEC's array will not include it.
      if (f.txIndex >= 0) return encodeError(`ERR ${alias} commands cannot be used inside MULTI`);
      const cmd = parseAdminCommand(f.args());
      // By sub-command, a bounded set; what could not be parsed counts as `invalid`.
      if (this.counters !== undefined)
        countIn(this.counters.adminCommands, isAdminParseError(cmd) ? 'invalid' : cmd.sub);
      if (isAdminParseError(cmd)) return encodeError(cmd.error);
      const denied = adminAccessError({
        access: cmd.access,
        alias,
        passwordSet: !!this.config.adminPassword,
        authenticated: this.authenticated(st),
        readsRequireAuth: this.config.adminReadsRequireAuth === true,
      });
      if (denied !== undefined) {
        const write = cmd.access === 'write' || cmd.access === 'action';
        if (write) this.log.warn({ ...who(s), command: cmd.sub, reason: denied }, 'admin write refused');
        return encodeError(denied);
      }
      // While a HELLO/RESET is in flight the protocol is unknown; a bulk string reads right in both.
      const proto: Protocol = st.pendingProtocolChanges > 0 ? 2 : s.protocol;
      return this.run(s, st, cmd, proto);
    } catch (e) {
      this.log.error({ ...who(s), err: errorText(e) }, 'admin command failed');
      return encodeError(`ERR slotrelay: ${alias} command failed: ${errorText(e)}`);
    }
  }

  private run(s: SessionContext, st: AdminSessionState, cmd: AdminCommand, proto: Protocol): Buffer | Promise<Buffer> {
    switch (cmd.sub) {
      case 'SCANCLUSTER':
        this.log.info({ ...who(s), command: 'SCANCLUSTER' }, 'admin write');
        return attempt(() => this.topology.rescan('admin SCANCLUSTER')).then(
          (m) => {
            const summary = `${m.nodes.length} nodes found in cluster`;
            this.log.info({ ...who(s), command: 'SCANCLUSTER', summary }, 'admin write applied');
            return encodeReply(node.simple(`OK ${summary}`));
          },
          (e: unknown) => {
            this.log.warn({ ...who(s), command: 'SCANCLUSTER', reason: errorText(e) }, 'admin write failed');
            return encodeError(`ERR ${errorText(e)}`);
          },
        );
      case 'STATUSCLUSTER': {
        const render = (m: AddressMap) =>
          encodeReply(
            node.verbatim(
              formatStatusCluster(m, { scans: this.topology.scans, lastRead: this.topology.lastRead }),
              proto,
            ),
          );
        const m = this.topology.current;
        if (m) return render(m);
        return attempt(() => this.topology.ensure()).then(render, (e: unknown) => encodeError(`ERR ${errorText(e)}`));
      }
      case 'CONFIG GET':
        if (!this.control) return encodeError('ERR CONFIG is not available in this process');
        return encodeReply(node.verbatim(formatConfigJson(this.control.currentConfig()), proto));
      case 'CONFIG PATCH':
        return this.patch(s, this.control, cmd.json);
      case 'AUTH': {
        const password = this.config.adminPassword;
        if (!password) {
          st.authDigest = null;
          this.log.warn({ ...who(s), reason: 'no adminPassword configured' }, 'admin AUTH failed');
          return encodeError(`ERR ${cmd.alias} AUTH called without any adminPassword configured`);
        }
        if (checkAdminPassword(cmd.password, password)) {
          st.authDigest = passwordDigest(password);
          this.log.info(who(s), 'admin AUTH accepted');
          return encodeReply(node.simple('OK'));
        }
        // A failed AUTH also drops an earlier success: the connection is no longer trusted.
        st.authDigest = null;
        this.log.warn(who(s), 'admin AUTH failed');
        return encodeError('ERR invalid admin password');
      }
      case 'HELP':
        return encodeReply(node.array(adminHelpLines(cmd.alias).map(node.simple)));
    }
  }

  private patch(s: SessionContext, control: FleetControl | undefined, json: string): Buffer | Promise<Buffer> {
    if (!control) return encodeError('ERR CONFIG is not available in this process');
    const parsed = parseConfigPatch(json);
    if (parsed.error !== undefined) {
      this.log.warn({ ...who(s), command: 'CONFIG PATCH', reason: parsed.loggable }, 'admin write refused');
      return encodeError(parsed.error);
    }
    this.log.info({ ...who(s), command: 'CONFIG PATCH', ops: opsForLog(parsed.ops) }, 'admin write');
    return attempt(() => control.patch(parsed.ops)).then(
      (summary) => {
        this.log.info({ ...who(s), command: 'CONFIG PATCH', summary }, 'admin write applied');
        return encodeReply(node.simple(`OK ${summary}`.trimEnd()));
      },
      (e: unknown) => {
        const reason = errorText(e) || 'the patch was not applied';
        this.log.warn({ ...who(s), command: 'CONFIG PATCH', reason }, 'admin write failed');
        return encodeError(`ERR ${reason}`); // newlines become spaces: one line
      },
    );
  }
}

/** Log fields naming the client. */
function who(s: SessionContext): { session: number; client: string; listener: string } {
  return { session: s.id, client: s.clientAddress, listener: s.listener.name };
}
