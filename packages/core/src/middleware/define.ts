import { ContainerModule } from 'inversify';
import { map } from 'rxjs';
import { SlotrelayConfig } from '../config.js';
import { COMPLETE, type Batch } from '../session/frame.js';
import type { FrameView as Frame } from './frame-view.js';
import { Middleware, type SessionContext } from './contract.js';

/** The session handle of a `defineMiddleware` hook: the `SessionContext`, plus this middleware's options and per-session state. */
export interface AuthorContext<S, O> extends SessionContext {
  /** What `state(options)` made for this session (one per session, shared by both hooks). */
  readonly state: S;
  /** What `options(raw)` made of the config entry, once per listener. */
  readonly options: O;
}

/** What an author writes: a name, the watched commands, and plain functions. */
export interface MiddlewareDefinition<S = undefined, O = Readonly<Record<string, unknown>>> {
  /** Unique name; also the key of this middleware's settings under the config's `middlewareConfig`. */
  readonly name: string;
  /** Command names (upper case) `onRequest` sees. Others pass by without costing anything. */
  readonly commands: readonly string[];
  /**
   * Turns the raw settings (`middlewareConfig[name]` in the config file, `{}` when absent) into the
   * options the hooks see. Runs once per listener; throw to refuse a bad config.
   */
  options?(raw: Readonly<Record<string, unknown>>): O;
  /** Makes one session's state (`s.state`); runs once per session, before its first hook. */
  state?(options: O): S;
  /**
   * Called for each whole, not yet answered request whose command is in `commands`, in pipeline
   * order. May read `frame.args()`, answer it (`s.answer`) or `frame.replace` it. Return a value other
   * than `undefined` to see the reply to this request in `onReply` (inside MULTI that reply is
   * `+QUEUED`: the result comes in EXEC's array at `frame.txIndex`).
   */
  onRequest?(frame: Frame, s: AuthorContext<S, O>): unknown;
  /** Called for each reply to a request `onRequest` returned a value for; the value is `mark`. The reply is whole. */
  onReply?(frame: Frame, s: AuthorContext<S, O>, mark: unknown): void;
  /** Called when the listener shuts down. */
  close?(): void | Promise<void>;
}

/** The `ContainerModule` `defineMiddleware` returns (the package's default export), with a way to build the middleware without a container. */
export interface MiddlewareModule extends ContainerModule {
  /** The middleware itself, for tests (`runMiddleware`) or hand assembly; `raw` is its config entry. */
  create(raw?: Readonly<Record<string, unknown>>): Middleware;
  readonly [MIDDLEWARE_MODULE]: true;
}

/** Brand of modules made by `defineMiddleware`, the same in every copy of core. */
export const MIDDLEWARE_MODULE: unique symbol = Symbol.for('@slotrelay/core:MiddlewareModule') as never;

/**
 * Makes a middleware from plain functions: the `ContainerModule` to export as the package's default,
 * binding a `Middleware` whose operators loop over each batch and call `onRequest` / `onReply` only
 * for the frames an author may touch (whole, not answered, watched by this middleware, or replies
 * this middleware marked). No decorators, no RxJS; the `Middleware` interface stays for authors who
 * need the whole batch (`batches: 'all'`, streamed frames).
 */
export function defineMiddleware<S = undefined, O = Readonly<Record<string, unknown>>>(
  def: MiddlewareDefinition<S, O>,
): MiddlewareModule {
  const create = (raw: Readonly<Record<string, unknown>> = {}): Middleware => buildMiddleware(def, raw);
  const module = new ContainerModule(({ bind }) => {
    bind(Middleware)
      .toDynamicValue((ctx) => {
        const config = ctx.get<{ middlewareConfig?: Record<string, Record<string, unknown>> }>(SlotrelayConfig, {
          optional: true,
        });
        return create(config?.middlewareConfig?.[def.name]);
      })
      .inSingletonScope();
  });
  return Object.assign(module, { create, [MIDDLEWARE_MODULE]: true as const });
}

function buildMiddleware<S, O>(def: MiddlewareDefinition<S, O>, raw: Readonly<Record<string, unknown>>): Middleware {
  const options = def.options ? def.options(raw) : (raw as O);
  const watched = new Set(def.commands.map((c) => c.toUpperCase()));
  // requests(s) and replies(s) get the same SessionContext object (one per session and middleware).
  const contexts = new WeakMap<SessionContext, AuthorContext<S, O>>();
  const contextOf = (s: SessionContext): AuthorContext<S, O> => {
    let c = contexts.get(s);
    if (c === undefined) {
      c = Object.assign(Object.create(s) as SessionContext, { state: def.state?.(options) as S, options });
      contexts.set(s, c);
    }
    return c;
  };
  const { onRequest, onReply } = def;
  return {
    name: def.name,
    commands: [...watched],
    requests: onRequest
      ? (s) => {
          const c = contextOf(s);
          return map((b: Batch) => {
            for (let i = 0; i < b.count; i++) {
              const f = b.frames[i]!;
              if (f.kind !== COMPLETE || f.dropped || f.command === undefined || !watched.has(f.command)) continue;
              const mark = onRequest(f, c);
              if (mark !== undefined && !f.dropped) s.mark(f, mark);
            }
            return b;
          });
        }
      : undefined,
    replies: onReply
      ? (s) => {
          const c = contextOf(s);
          return map((b: Batch) => {
            for (let i = 0; i < b.count; i++) {
              const f = b.frames[i]!;
              if (f.kind !== COMPLETE) continue;
              const mark = s.markOf(f);
              if (mark !== undefined) onReply(f, c, mark);
            }
            return b;
          });
        }
      : undefined,
    close: def.close,
  };
}

/**
 * True when `value` can be loaded as a middleware module: made by `defineMiddleware` (any copy of
 * core), or an inversify `ContainerModule` (any copy of inversify: checked by shape, never by
 * `instanceof`, so a middleware installed in its own folder with its own copies still loads).
 */
export function isMiddlewareModule(value: unknown): value is ContainerModule {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { load?: unknown; id?: unknown; [MIDDLEWARE_MODULE]?: unknown };
  return v[MIDDLEWARE_MODULE] === true || (typeof v.load === 'function' && typeof v.id === 'number');
}
