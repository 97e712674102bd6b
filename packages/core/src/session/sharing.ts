import { type PoolKey, sameKey } from '../upstream/upstream-pool.js';
import { encodeCommand } from '../resp/encode.js';
import { COMPLETE, type Frame } from './frame.js';

/** What a request means for a session on a shared connection (`Frame.share`). */
export const SHARE_PLAIN = 0;
/** It makes the connection stateful: the session moves to a connection of its own first (for good). */
export const SHARE_PIN = 1;
/** It changes the pool key (HELLO 2/3, AUTH, READONLY, READWRITE): it goes on a connection of the new key. */
export const SHARE_KEY = 2;
/** ASKING: only its next command may follow it on the connection. */
export const SHARE_ASKING = 3;
/** QUIT: answered by the proxy (Redis would close the connection everyone shares). */
export const SHARE_QUIT = 4;
/**
 * CLIENT SETNAME / GETNAME: the name is the session's, kept by the proxy (a shared connection has
 * no one name); answered as Redis answers, and given to the connection the session may pin to.
 */
export const SHARE_NAME = 5;

/**
 * Commands that pin, by name alone (ARCHITECTURE.md "Pinning", one line each on why). Checked
 * against `COMMAND DOCS` of Redis 7.0: Redis's flags do not mark connection state, so this is a
 * hand list; every command flagged `blocking` is in it (a test asks Redis) except WAIT.
 */
const PIN_BY_NAME = new Set([
  'MULTI', // the transaction is the connection's
  'WATCH', // watched keys are the connection's
  'BLPOP', // blocking: the connection waits, and so would every session behind it
  'BRPOP',
  'BRPOPLPUSH',
  'BLMOVE',
  'BLMPOP',
  'BZPOPMIN',
  'BZPOPMAX',
  'BZMPOP',
  'SUBSCRIBE', // pub/sub: messages come unasked
  'PSUBSCRIBE',
  'SSUBSCRIBE',
  'UNSUBSCRIBE', // one confirmation per channel, subscribed or not: not one reply per request
  'PUNSUBSCRIBE',
  'SUNSUBSCRIBE',
  'MONITOR', // a stream of every command
  'RESET', // resets the connection's protocol, user, mode
  'SYNC', // replication streams
  'PSYNC',
  'REPLCONF',
]);

/** CLIENT subcommands that pin: their state or answer is the connection's. */
const PIN_CLIENT = new Set([
  'TRACKING', // invalidation pushes come unasked
  'CACHING',
  'GETREDIR',
  'TRACKINGINFO',
  'REPLY', // replies the client turns off would pair with other sessions' requests
  'NO-EVICT',
  'NO-TOUCH',
  'ID', // CLIENT KILL ID of a shared connection would close everyone's
]);

/** Does `cmd` (upper case) pin by its name alone? XREAD/XREADGROUP pin with BLOCK only. */
export function pinsByName(cmd: string): boolean {
  return PIN_BY_NAME.has(cmd);
}

/** Commands a shared session's request path must look at (the command table watches them). */
export const SHARING_COMMANDS: readonly string[] = [
  ...PIN_BY_NAME,
  'XREAD',
  'XREADGROUP',
  'CLIENT',
  'HELLO',
  'AUTH',
  'READONLY',
  'READWRITE',
  'ASKING',
  'QUIT',
];

/**
 * Classify a whole request of a shared session (`cmd`: the watched name it spells): sets
 * `f.share`, and for `SHARE_KEY` `f.shareKey` (the key it moves the session to if Redis accepts
 * it). A request whose effect cannot be followed exactly pins.
 */
export function classifyShared(f: Frame, cmd: string, key: PoolKey): void {
  if (PIN_BY_NAME.has(cmd)) {
    f.share = SHARE_PIN;
    return;
  }
  switch (cmd) {
    case 'QUIT':
      f.share = SHARE_QUIT;
      return;
    case 'ASKING':
      f.share = SHARE_ASKING;
      return;
    case 'XREAD':
    case 'XREADGROUP':
      if (f.args().some((a, i) => i > 0 && a.length === 5 && a.toString('latin1').toUpperCase() === 'BLOCK'))
        f.share = SHARE_PIN;
      return;
    case 'CLIENT': {
      const sub = f.argc > 1 ? f.args()[1]!.toString('latin1').toUpperCase() : '';
      if (PIN_CLIENT.has(sub)) f.share = SHARE_PIN;
      else if ((sub === 'SETNAME' && f.argc === 3) || (sub === 'GETNAME' && f.argc === 2)) f.share = SHARE_NAME;
      return;
    }
    case 'READONLY':
    case 'READWRITE':
      // With arguments: an arity error, no effect.
      if (f.argc === 1) moveTo(f, key, { ...key, readonly: cmd === 'READONLY' });
      return;
    case 'AUTH':
      if (f.argc === 2 || f.argc === 3) moveTo(f, key, { ...key, credentials: f.args().slice(1).map(copy) });
      return;
    case 'HELLO':
      hello(f, key);
      return;
  }
}

/** `HELLO [2|3 [AUTH user pass] [SETNAME name]]`: a new key when it names a protocol; else pins unless bare. */
function hello(f: Frame, key: PoolKey): void {
  if (f.argc === 1) return; // answers with the connection's protocol: the key's
  const args = f.args();
  const v = args[1]!.toString('latin1');
  if (v !== '2' && v !== '3') {
    f.share = SHARE_PIN; // NOPROTO or a syntax error: no effect, but not worth following
    return;
  }
  let credentials = key.credentials;
  const kept: Buffer[] = [args[0]!, args[1]!];
  for (let i = 2; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    if (opt === 'AUTH' && i + 2 < args.length) {
      credentials = [copy(args[i + 1]!), copy(args[i + 2]!)];
      kept.push(args[i]!, args[i + 1]!, args[i + 2]!);
      i += 2;
    } else if (opt === 'SETNAME' && i + 1 < args.length) {
      f.shareName = validName(args[i + 1]!);
      i += 1;
    } else {
      f.share = SHARE_PIN;
      return;
    }
  }
  // The name is the session's (answered by the proxy, given to a connection it pins to): the HELLO
  // that goes to a shared connection leaves SETNAME out, or it would name the connection all share.
  if (f.shareName !== null && f.kind === COMPLETE) f.replace(encodeCommand(kept));
  moveTo(f, key, { protocol: v === '3' ? 3 : 2, credentials, readonly: key.readonly });
}

function moveTo(f: Frame, from: PoolKey, to: PoolKey): void {
  // Already there: the command changes nothing on a connection of that key (AUTH again with the
  // same credentials; HELLO 3 when speaking RESP3), so it may go on the shared one.
  if (sameKey(from, to)) return;
  f.share = SHARE_KEY;
  f.shareKey = to;
}

/**
 * A name Redis accepts (no byte outside '!'..'~'), copied: the connection a session pins to is
 * given it too, as its client named its connection. Null: Redis refuses it (nothing to remember).
 */
export function validName(name: Buffer): Buffer | null {
  for (const c of name) if (c < 0x21 || c > 0x7e) return null;
  return Buffer.from(name);
}

/** Frames are views of reused buffers: a key keeps its own bytes. */
function copy(b: Buffer): Buffer {
  return Buffer.from(b);
}
