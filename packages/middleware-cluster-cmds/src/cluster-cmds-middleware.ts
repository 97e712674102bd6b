import { inject, injectable, optional } from 'inversify';
import { type MonoTypeOperatorFunction, map as mapBatch } from 'rxjs';
import {
  type AddressMap,
  type Batch,
  COMPLETE,
  type Frame,
  type ListenerInfo,
  ListenerInfoToken,
  type Middleware,
  type SessionContext,
  type TopologyService,
  TopologyServiceToken,
  encodeCommand,
  encodeError,
  rewriteFrames,
} from '@slotrelay/core';
import { ListenerCounters } from '@slotrelay/core/internal';
import { rewriteAddressArgs } from './address-args.js';
import { type Rewritten, type UnknownNode, describeUnknown, mapRedisResolver, mapResolver } from './resolver.js';
import { NodeEndpoints } from './node-endpoints.js';
import { isErrorType } from './resp-values.js';
import {
  type ReplyKind,
  type ReplyRewriteOptions,
  replyKindOf,
  rewriteExecReply,
  rewriteReply,
} from './rewrite-reply.js';
import {
  GUARDED_COMMANDS,
  REPLY_GUARD,
  SCRIPT_COMMANDS,
  SCRIPT_GUARD,
  guardExecReply,
  guardReply,
  rewriteConfigGet,
} from './address-guard.js';
import { ExecMark, GuardMark, QueuedMark, Transaction } from './transaction.js';

/** A rewrite of one reply's bytes under some options (one of `rewriteReply`, `rewriteExecReply`). */
type ReplyRewrite = (bytes: Buffer, o: ReplyRewriteOptions) => Rewritten<Buffer>;

/** Commands whose requests this middleware reads: the address-bearing ones, and MULTI/EXEC bookkeeping. */
const COMMANDS = [
  'CLUSTER',
  'INFO',
  'ROLE',
  'MIGRATE',
  'REPLICAOF',
  'SLAVEOF',
  'MULTI',
  'EXEC',
  'DISCARD',
  'RESET',
  'MONITOR',
  ...SCRIPT_COMMANDS,
  ...GUARDED_COMMANDS,
] as const;
const OWN: ReadonlySet<string> = new Set(COMMANDS);
const SCRIPTS: ReadonlySet<string> = new Set(SCRIPT_COMMANDS);
const GUARDED: ReadonlySet<string> = new Set(GUARDED_COMMANDS);

/** MONITOR's lines are out of band (no middleware sees them) and on a replica name its master's endpoint. */
const MONITOR_REFUSED = encodeError(
  'ERR slotrelay: MONITOR is not available through the proxy (its lines name Redis nodes)',
);

/**
 * Keeps Redis addresses from reaching clients through command replies, and maps proxy addresses in
 * admin commands back to Redis:
 * - replies of CLUSTER NODES / SLOTS / SHARDS / REPLICAS / SLAVES, INFO and ROLE name proxies (RESP2
 *   and RESP3, wire types kept), also when the command was queued in MULTI: the EXEC request is
 *   marked with the places of those replies in its array (`Transaction`);
 * - MIGRATE, CLUSTER MEET and REPLICAOF/SLAVEOF naming a proxy are sent to Redis naming its node;
 * - the reply of a script (EVAL, EVALSHA, FCALL and their _RO forms) that names a node endpoint is
 *   rewritten when it is exactly a CLUSTER NODES / SLOTS / SHARDS / REPLICAS or INFO reply, and
 *   refused with an error otherwise; introspection replies (CLIENT LIST `laddr`, ACL LOG, CONFIG GET
 *   …) have node endpoints replaced or dropped, and are refused if one remains; MONITOR is refused
 *   (`address-guard.ts`, README "Every command that can name a node").
 *
 * A reply naming a node the address map does not know triggers a (coalesced) rescan and is rewritten
 * afterwards, later replies waiting; a node still unknown is hidden — never passed on — and logged.
 */
@injectable()
export class ClusterCmdsMiddleware implements Middleware {
  readonly name = '@slotrelay/middleware-cluster-cmds';
  readonly commands: readonly string[] = COMMANDS;
  /** Nodes still unknown after the last rescan, per map: they do not trigger another rescan until the map changes. */
  private settled: { map: AddressMap | null; keys: Set<string> } = { map: null, keys: new Set() };

  constructor(
    @inject(TopologyServiceToken) private readonly topology: TopologyService,
    @inject(ListenerInfoToken) private readonly listener: ListenerInfo,
    @inject(ListenerCounters) @optional() private readonly counters?: ListenerCounters,
  ) {}

  /** A reply's rewrite result on its way out: counted when it changed (the host's metrics read it). */
  private counted<T>(r: Rewritten<T>): Rewritten<T> {
    if (r.changed && this.counters !== undefined) this.counters.clusterRepliesRewritten++;
    return r;
  }

  requests(s: SessionContext): MonoTypeOperatorFunction<Batch> {
    // The transaction this session has open, if it queued an address-bearing command. Core gives
    // each queued request its EXEC index (`txIndex`); batches without a watched command never come
    // here, and need not: core counts them.
    let tx: Transaction | null = null;
    // MULTI … EXEC as the client sent them (all watched, so every one passes here), to tell a nested
    // MULTI — an error, nothing queued — from a new transaction.
    let open = false;
    return mapBatch((b) => {
      if (b.interesting === 0) return b;
      for (let i = 0; i < b.count; i++) {
        const f = b.frames[i]!;
        if (f.dropped) {
          // Answered by an earlier middleware: Redis never queues it, though core counted it.
          if (f.txIndex >= 0) (tx ??= new Transaction()).dropped();
          continue;
        }
        const cmd = f.kind === COMPLETE ? f.command : undefined;
        if (cmd === undefined || !OWN.has(cmd)) continue;
        switch (cmd) {
          case 'MULTI':
            if (open) (tx ??= new Transaction()).nestedMulti();
            else tx = null;
            open = true;
            continue;
          case 'EXEC':
            if (tx !== null && (tx.kinds.size > 0 || tx.guard !== null)) s.mark(f, new ExecMark(tx));
            tx = null;
            open = false;
            continue;
          case 'DISCARD':
          case 'RESET':
            tx = null;
            open = false;
            continue;
          case 'MONITOR':
            // Queued in MULTI, Redis answers it with an error in the EXEC array itself.
            if (!open) s.answer(f, MONITOR_REFUSED);
            continue;
        }
        this.onRequest(s, f, f.txIndex >= 0 ? (tx ??= new Transaction()) : null);
      }
      return b;
    });
  }

  replies(s: SessionContext): MonoTypeOperatorFunction<Batch> {
    return rewriteFrames({
      batch: (b) => b.marked > 0,
      wants: (f) => s.markOf(f) !== undefined,
      rewrite: (f) => this.onReply(s, f, s.markOf(f)),
    });
  }

  /** A CLUSTER / INFO / ROLE / MIGRATE / REPLICAOF / SLAVEOF request. */
  private onRequest(s: SessionContext, f: Frame, tx: Transaction | null): void {
    if (SCRIPTS.has(f.command!)) {
      // Only the reply is looked at: its shape is the script's choice.
      this.markGuarded(s, f, tx, 'script');
      return;
    }
    const args = f.args();
    const mapped = rewriteAddressArgs(args, mapRedisResolver(this.topology.current));
    if (mapped !== null) {
      s.log.debug({ command: f.command }, 'proxy address in a request mapped back to its Redis node');
      f.replace(encodeCommand(mapped));
    }
    const kind = replyKindOf(args);
    if (kind === null) {
      if (!GUARDED.has(f.command!)) return;
      const config = isConfigGet(args);
      if (config && tx !== null) tx.addConfigGet(f.txIndex);
      this.markGuarded(s, f, tx, config ? 'config' : 'reply');
      return;
    }
    if (tx !== null) {
      tx.add(f.txIndex, kind);
      s.mark(f, new QueuedMark(kind));
    } else {
      s.mark(f, kind);
    }
  }

  private onReply(s: SessionContext, f: Frame, m: unknown): Buffer | Promise<Buffer> | undefined {
    if (m instanceof GuardMark) {
      if (m.queued && QueuedMark.isQueued(f.bytes())) return undefined;
      return this.rewrite(
        s,
        f,
        m.what,
        (bytes, o) => {
          const e = this.endpoints();
          return this.logged(
            s,
            m.what,
            m.what === 'config'
              ? rewriteConfigGet(bytes, o, e)
              : guardReply(bytes, o, e, m.what === 'script' ? SCRIPT_GUARD : REPLY_GUARD),
          );
        },
        true,
      );
    }
    if (m instanceof QueuedMark) {
      if (QueuedMark.isQueued(f.bytes())) return undefined;
      const kind = m.kind;
      return this.rewrite(s, f, kind, (bytes, o) => rewriteReply(bytes, kind, o));
    }
    if (m instanceof ExecMark) {
      const tx = m.tx;
      let warned = tx.verifyAll;
      return this.rewrite(s, f, 'EXEC', (bytes, o) => {
        const r = rewriteExecReply(bytes, tx, o);
        if (r.byShape > 0 && !warned) {
          // A request of the transaction answered by a later middleware: core counted it, Redis did not.
          s.log.warn(
            { found: r.byShape },
            'EXEC reply: a counted place did not hold the expected reply; matched by shape',
          );
          warned = true;
        }
        if (tx.guard === null) return r;
        const g = this.logged(s, 'EXEC', guardExecReply(r.value, o, this.endpoints(), tx.guard, tx.configAt));
        return { value: g.value, changed: r.changed || g.changed, unknown: [...r.unknown, ...g.unknown] };
      });
    }
    if (typeof m === 'string') {
      const kind = m as ReplyKind;
      return this.rewrite(s, f, kind, (bytes, o) => rewriteReply(bytes, kind, o));
    }
    return undefined;
  }

  /** The node endpoints of the current map (a script reply that names one is rewritten or refused). */
  private endpoints(): NodeEndpoints {
    return NodeEndpoints.of(this.topology.current);
  }

  private logged(s: SessionContext, what: string, r: Rewritten<Buffer>): Rewritten<Buffer> {
    if (r.changed)
      s.log.info({ reply: what, refused: r.value[0] === 0x2d }, 'a reply named a Redis node: rewritten or refused');
    return r;
  }

  /** Marks a script or introspection request whose reply is guarded (`address-guard.ts`). */
  private markGuarded(s: SessionContext, f: Frame, tx: Transaction | null, what: GuardMark['what']): void {
    if (tx !== null) tx.guarded(what === 'script' ? SCRIPT_GUARD : REPLY_GUARD);
    s.mark(f, new GuardMark(what, tx !== null));
  }

  /**
   * Rewrite with the current map; if a node is unknown, rescan first (the reply waits, later ones
   * with it). Error replies pass, unless `errors` (guarded replies: a script can return any error
   * text, and an error may quote an argument the proxy mapped to a node).
   */
  private rewrite(
    s: SessionContext,
    f: Frame,
    what: string,
    fn: ReplyRewrite,
    errors = false,
  ): Buffer | Promise<Buffer> | undefined {
    if (isErrorType(f.type) && !errors) return undefined;
    const current = this.topology.current;
    const first = fn(f.bytes(), this.options(current, true));
    if (first.unknown.length === 0) return this.counted(first).changed ? first.value : undefined;
    if (this.alreadyRescanned(current, first.unknown)) return this.finish(s, f.bytes(), what, fn, current, first);
    // Copy: the frame's buffer belongs to the batch, the rescan outlives it.
    const bytes = Buffer.from(f.bytes());
    const reason = `${what} reply names a node no proxy is mapped to (${describeUnknown(first.unknown[0]!)})`;
    return this.topology.rescan(reason).then(
      (next) => this.finish(s, bytes, what, fn, next),
      (err: unknown) => {
        s.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'topology rescan failed');
        return this.finish(s, bytes, what, fn, this.topology.current);
      },
    );
  }

  /** The final rewrite after a rescan: what is still unknown is hidden, logged and not rescanned for again. */
  private finish(
    s: SessionContext,
    bytes: Buffer,
    what: string,
    fn: ReplyRewrite,
    map: AddressMap | null,
    strict?: Rewritten<Buffer>,
  ): Buffer {
    const byId = strict ?? fn(bytes, this.options(map, true));
    if (byId.unknown.length === 0) return this.counted(byId).value;
    this.remember(map, byId.unknown);
    // A node ID still unknown may sit at a known address (a node replaced in place): accept that now.
    const r = this.counted(fn(bytes, this.options(map, false)));
    if (r.unknown.length > 0) {
      s.log.warn(
        { reply: what, hidden: r.unknown.map(describeUnknown) },
        'reply names Redis nodes no proxy is mapped to; hidden from the client',
      );
    }
    return r.value;
  }

  private options(map: AddressMap | null, strict: boolean): ReplyRewriteOptions {
    return {
      resolve: mapResolver(map, { strict }),
      tls: this.listener.tls,
      self: map?.self ? map.proxyFor(map.self.id) : undefined,
    };
  }

  private alreadyRescanned(map: AddressMap | null, unknown: readonly UnknownNode[]): boolean {
    return map === this.settled.map && unknown.every((u) => this.settled.keys.has(describeUnknown(u)));
  }

  private remember(map: AddressMap | null, unknown: readonly UnknownNode[]): void {
    if (this.settled.map !== map) this.settled = { map, keys: new Set() };
    for (const u of unknown) this.settled.keys.add(describeUnknown(u));
  }
}

/** `CONFIG GET …`: its reply drops the address parameters. */
function isConfigGet(args: readonly Buffer[]): boolean {
  return (
    args.length >= 3 &&
    args[0]!.toString('latin1').toUpperCase() === 'CONFIG' &&
    args[1]!.toString('latin1').toUpperCase() === 'GET'
  );
}
