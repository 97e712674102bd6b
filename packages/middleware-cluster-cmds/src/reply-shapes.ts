import { type RespNode, RespType } from '@slotrelay/core';
import { isArray, isMapLike, mapGet, textOf } from './resp-values.js';

/** The replies this package rewrites, named by the command that asked for them. */
export type ReplyKind = 'nodes' | 'slots' | 'shards' | 'replicas' | 'info' | 'role';

/** How well a value fits a reply kind: `match`, `empty` (fits, but carries nothing, so proves nothing), `mismatch`. */
export type ShapeFit = 'match' | 'empty' | 'mismatch';

// `<id> <ip>:<port>[@<cport>][,…] <flags> <master|-> <ping> <pong> <epoch> <link>` (clusterGenNodeDescription)
const NODE_LINE = /^[0-9a-f]{40} \S*:\d+\S* \S+ (?:-|[0-9a-f]{40}) \d+ \d+ \d+ (?:connected|disconnected)(?: |$)/;

const isText = (n: RespNode) => (n.type === RespType.BulkString || n.type === RespType.Verbatim) && n.data != null;

/**
 * Whether a decoded value has the shape of a `kind` reply (CLUSTER NODES text, a SLOTS range list
 * …). Used to confirm, inside an EXEC array, that an element is the reply it is taken for before
 * rewriting it, and to find an address-bearing reply whose place was miscounted.
 */
export function shapeFit(n: RespNode, kind: ReplyKind): ShapeFit {
  switch (kind) {
    case 'nodes': {
      if (!isText(n)) return 'mismatch';
      const text = n.data!.toString('latin1');
      const nl = text.indexOf('\n');
      return NODE_LINE.test(nl < 0 ? text : text.slice(0, nl)) ? 'match' : 'mismatch';
    }
    case 'replicas':
      if (!isArray(n)) return 'mismatch';
      if (n.items.length === 0) return 'empty';
      return n.items.every((i) => NODE_LINE.test(textOf(i) ?? '')) ? 'match' : 'mismatch';
    case 'slots':
      if (!isArray(n)) return 'mismatch';
      if (n.items.length === 0) return 'empty';
      return n.items.every(
        (r) =>
          isArray(r) &&
          r.items.length >= 3 &&
          r.items[0]!.type === RespType.Integer &&
          r.items[1]!.type === RespType.Integer &&
          isArray(r.items[2]),
      )
        ? 'match'
        : 'mismatch';
    case 'shards':
      if (!isArray(n)) return 'mismatch';
      if (n.items.length === 0) return 'empty';
      return n.items.every((s) => isMapLike(s) && mapGet(s, 'nodes') !== undefined) ? 'match' : 'mismatch';
    case 'role': {
      if (!isArray(n)) return 'mismatch';
      const role = textOf(n.items[0]);
      return role === 'master' || role === 'slave' ? 'match' : role === 'sentinel' ? 'empty' : 'mismatch';
    }
    case 'info': {
      if (!isText(n)) return 'mismatch';
      if (n.data!.length === 0) return 'empty'; // INFO of sections that do not exist
      return n.data!.toString('latin1', 0, 2) === '# ' ? 'match' : 'mismatch';
    }
  }
}
