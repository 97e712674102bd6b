import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Protocol } from '../resp/encode.js';
import type { Batch } from '../session/frame.js';
import type { FrameView as Frame } from './frame-view.js';
import type { Logger } from '../logger.js';

/** A batch of client requests (one socket chunk's worth), flowing client → Redis. */
export type RequestBatch = Batch;
/** A batch of replies (one socket chunk's worth), flowing Redis → client. */
export type ReplyBatch = Batch;

/** What a middleware knows about the listener a session arrived on. */
export interface ListenerInfo {
  /** The connection's name in the config. */
  readonly name: string;
  /** The address clients connect to, as written in redirects (`host:port`). */
  readonly host: string;
  readonly port: number;
  /** True when clients speak TLS to this listener. */
  readonly tls: boolean;
}

/**
 * The per-session handle a middleware's operators receive. One instance per (session, middleware):
 * marks are private to the middleware that set them.
 */
export interface SessionContext {
  /** Process-unique session number (for logs). */
  readonly id: number;
  /** The protocol the client negotiated: 2, or 3 after a successful `HELLO 3`. Encode local replies in it. */
  readonly protocol: Protocol;
  /** True between MULTI and EXEC/DISCARD as sent by the client. */
  readonly inTransaction: boolean;
  /** `ip:port` of the client. */
  readonly clientAddress: string;
  readonly listener: ListenerInfo;
  readonly log: Logger;
  /**
   * Answer a request locally instead of sending it to Redis. The reply takes the request's place in
   * the pipeline order; a promise holds back later replies until it settles. Legal only on a
   * `COMPLETE` request frame during the `requests` operator.
   */
  answer(frame: Frame, reply: Buffer | Promise<Buffer>): void;
  /** Attach a value to a request; the reply to it carries the value (`markOf`). Marked replies are held whole. */
  mark(frame: Frame, value: unknown): void;
  /** On a reply frame: the value this middleware attached to its request, or undefined. */
  markOf(frame: Frame): unknown;
  /** End the session: the client gets `-ERR <reason>` after the replies already due, then the connection closes. */
  close(reason: string): void;
}

/**
 * A pipeline stage. Three binding times (STYLE.md): the constructor runs once per listener (read
 * config, precompute); `requests`/`replies` once per session (build the operator, allocate session
 * state); the operator body once per batch — synchronous, one batch in, exactly one batch out.
 * Requests pass the middleware in config order, replies in reverse.
 */
export interface Middleware {
  /** Unique name, as listed in the config's `middleware` array. */
  readonly name: string;
  /**
   * Command names (upper case) whose requests this middleware inspects. Frames of these commands
   * arrive whole with `frame.command` set; core never decodes other names unless asked.
   */
  readonly commands?: readonly string[];
  /**
   * Which batches the operators see. `relevant` (default): request batches holding a watched
   * command, reply batches holding an error or a marked reply — every other batch skips the RxJS
   * pipeline altogether and is forwarded as one slice, so pass-through traffic costs what a plain
   * socket pipe costs. `all`: every batch (auditing, metrics).
   */
  readonly batches?: 'relevant' | 'all';
  requests?(s: SessionContext): MonoTypeOperatorFunction<RequestBatch>;
  replies?(s: SessionContext): MonoTypeOperatorFunction<ReplyBatch>;
  /** Called when the listener shuts down. */
  close?(): void | Promise<void>;
}

/** DI token for `Middleware` (multi-injected, in config order). */
export const Middleware = Symbol.for('@slotrelay/core:Middleware');
