import { type RespNode, RespType, decodeReply, encodeError, encodeReply } from '@slotrelay/core';

/** Where a redirect points, as written by Redis: `host` may be an IP, a hostname, `?` or ''. */
export interface RedirectTarget {
  readonly kind: 'MOVED' | 'ASK';
  readonly slot: number;
  readonly host: string;
  readonly port: number;
}

/** Finds the proxy address (`host:port`) for a Redis endpoint, or undefined when no proxy fronts it. */
export type ResolveEndpoint = (host: string, port: number) => string | undefined;

/**
 * Parses `MOVED <slot> <endpoint>:<port>` / `ASK …` (the text of an error reply, without `-`).
 * The port follows the last colon (bare IPv6, empty endpoint). The slot must be 0–16383 (as ioredis
 * checks) or the text is not treated as a redirect.
 */
export function parseRedirect(text: string): RedirectTarget | undefined {
  const kind = text.startsWith('MOVED ') ? 'MOVED' : text.startsWith('ASK ') ? 'ASK' : undefined;
  if (kind === undefined) return undefined;
  const rest = text.slice(kind.length + 1);
  const sp = rest.indexOf(' ');
  if (sp < 0) return undefined;
  const slotText = rest.slice(0, sp);
  const slot = Number(slotText);
  if (!/^\d+$/.test(slotText) || slot > 16383) return undefined;
  const endpoint = rest.slice(sp + 1);
  const colon = endpoint.lastIndexOf(':');
  if (colon < 0) return undefined;
  const portText = endpoint.slice(colon + 1);
  if (!/^\d+$/.test(portText)) return undefined;
  return { kind, slot, host: endpoint.slice(0, colon), port: Number(portText) };
}

/** The result of rewriting one frame: new bytes, or the redirect no proxy is known for. */
export type RewriteResult = { bytes: Buffer; unknown: null } | { bytes: null; unknown: RedirectTarget };

/**
 * Rewrites every MOVED/ASK in one reply frame — a top-level error, or errors nested anywhere in an
 * aggregate (an EXEC array) — to name proxies. Returns null when the frame holds no redirect.
 * `rewritten` (metrics) is told of each redirect rewritten, only when the whole frame is.
 */
export function rewriteRedirectFrame(
  buf: Buffer,
  start: number,
  end: number,
  resolve: ResolveEndpoint,
  rewritten?: (kind: RedirectTarget['kind']) => void,
): RewriteResult | null {
  if (buf[start] === RespType.Error) {
    const target = parseRedirect(buf.toString('latin1', start + 1, end - 2));
    if (!target) return null;
    const proxy = resolve(target.host, target.port);
    if (proxy === undefined) return { bytes: null, unknown: target };
    rewritten?.(target.kind);
    return { bytes: encodeError(`${target.kind} ${target.slot} ${proxy}`), unknown: null };
  }
  const root = decodeReply(buf, start, end);
  const kinds: Array<RedirectTarget['kind']> = [];
  let unknown: RedirectTarget | null = null;
  const walk = (n: RespNode): void => {
    if (n.type === RespType.Error) {
      const target = parseRedirect(n.text!);
      if (!target) return;
      const proxy = resolve(target.host, target.port);
      if (proxy === undefined) unknown ??= target;
      else {
        n.text = `${target.kind} ${target.slot} ${proxy}`;
        kinds.push(target.kind);
      }
      return;
    }
    if (n.attributes) n.attributes.forEach(walk);
    if (n.items) n.items.forEach(walk);
  };
  walk(root);
  if (unknown !== null) return { bytes: null, unknown };
  if (kinds.length === 0) return null;
  if (rewritten) for (const k of kinds) rewritten(k);
  return { bytes: encodeReply(root), unknown: null };
}
