/** The command names this package answers. `SLOTRELAY` is an alias of every `GALLIUMDATA` command. */
export const ADMIN_COMMAND_NAMES = ['GALLIUMDATA', 'SLOTRELAY'] as const;

/** `GALLIUMDATA` or `SLOTRELAY`, as the client sent it (upper case). */
export type AdminAlias = (typeof ADMIN_COMMAND_NAMES)[number];

/**
 * Who may run a subcommand. `read`: open unless `adminReadsRequireAuth`. `write` (changes the
 * config): needs `adminPassword` and AUTH. `action` (changes running state, not the config): a
 * write once `adminPassword` is set, else open like a read, as in Gallium Data. `auth`: AUTH itself.
 */
export type AdminAccess = 'read' | 'write' | 'action' | 'auth';

/** One subcommand: its name (two words for CONFIG …), its arguments, access level and help text. */
export interface AdminSubcommandSpec {
  readonly name: 'SCANCLUSTER' | 'STATUSCLUSTER' | 'CONFIG GET' | 'CONFIG PATCH' | 'AUTH' | 'HELP';
  /** Argument names after the subcommand (exact arity). */
  readonly args: readonly string[];
  readonly access: AdminAccess;
  readonly help: string;
}

/** Every subcommand, in HELP order. */
export const ADMIN_SUBCOMMANDS: readonly AdminSubcommandSpec[] = [
  // A rescan can remap the proxy and close the sessions of a moved node.
  {
    name: 'SCANCLUSTER',
    args: [],
    access: 'action',
    help: 'Re-read CLUSTER NODES from the Redis servers and remap; replies with the node count.',
  },
  { name: 'STATUSCLUSTER', args: [], access: 'read', help: 'Show which slotrelay proxy fronts each Redis node.' },
  { name: 'CONFIG GET', args: [], access: 'read', help: 'The running config as JSON, secrets masked.' },
  {
    name: 'CONFIG PATCH',
    args: ['<json-patch>'],
    access: 'write',
    help: 'Apply an RFC 6902 JSON Patch (a JSON array) to the running config. Needs AUTH.',
  },
  {
    name: 'AUTH',
    args: ['<password>'],
    access: 'auth',
    help: 'Authenticate this connection for admin commands (adminPassword) until RESET.',
  },
  { name: 'HELP', args: [], access: 'read', help: 'Print this help.' },
];

/** A parsed admin command. Payloads are copies: they outlive the request frame. */
export type AdminCommand =
  | {
      readonly sub: 'SCANCLUSTER' | 'STATUSCLUSTER' | 'CONFIG GET' | 'HELP';
      readonly alias: AdminAlias;
      readonly access: AdminAccess;
    }
  | { readonly sub: 'AUTH'; readonly alias: AdminAlias; readonly access: AdminAccess; readonly password: Buffer }
  | { readonly sub: 'CONFIG PATCH'; readonly alias: AdminAlias; readonly access: AdminAccess; readonly json: string };

/** A request that is not a valid admin command: `error` is the reply text (without the `-`). */
export interface AdminParseError {
  readonly alias: AdminAlias;
  readonly error: string;
}

/** True when `parseAdminCommand` refused the request. */
export function isAdminParseError(c: AdminCommand | AdminParseError): c is AdminParseError {
  return 'error' in c;
}

const text = (a: Buffer | string | undefined): string =>
  a === undefined ? '' : typeof a === 'string' ? a : a.toString('utf8');

/** Long or binary junk must not make a huge or unreadable error line. */
function shown(a: string): string {
  return a.length > 64 ? `${a.slice(0, 64)}…` : a;
}

/**
 * Parses a request's arguments (command name first, as `Frame.args()` returns them) into an admin
 * command. Command and subcommand names are case-insensitive; arity is exact. Returns an
 * `AdminParseError` whose `error` names the alias the client used (`SLOTRELAY` when that was sent).
 */
export function parseAdminCommand(args: ReadonlyArray<Buffer | string>): AdminCommand | AdminParseError {
  const first = text(args[0]).toUpperCase();
  const alias: AdminAlias = first === 'SLOTRELAY' ? 'SLOTRELAY' : 'GALLIUMDATA';
  const w1 = text(args[1]);
  let spec = ADMIN_SUBCOMMANDS.find((c) => c.name === w1.toUpperCase());
  let rest = args.slice(2);
  if (w1.toUpperCase() === 'CONFIG') {
    if (args.length < 3) return { alias, error: `ERR wrong number of arguments for '${alias} CONFIG'` };
    const w2 = text(args[2]);
    spec = ADMIN_SUBCOMMANDS.find((c) => c.name === `CONFIG ${w2.toUpperCase()}`);
    if (spec === undefined)
      return { alias, error: `ERR unknown ${alias} subcommand '${shown(`${w1} ${w2}`)}' (try HELP)` };
    rest = args.slice(3);
  }
  if (spec === undefined) return { alias, error: `ERR unknown ${alias} subcommand '${shown(w1)}' (try HELP)` };
  if (rest.length !== spec.args.length)
    return { alias, error: `ERR wrong number of arguments for '${alias} ${spec.name}'` };
  const base = { alias, access: spec.access };
  switch (spec.name) {
    case 'AUTH': {
      const p = rest[0]!;
      // A copy: the frame's buffer is reused by the next batch.
      return { ...base, sub: 'AUTH', password: typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p) };
    }
    case 'CONFIG PATCH':
      return { ...base, sub: 'CONFIG PATCH', json: text(rest[0]) };
    default:
      return { ...base, sub: spec.name };
  }
}

/** HELP's lines, in the shape Redis uses for `<COMMAND> HELP` (an array of status lines). */
export function adminHelpLines(alias: AdminAlias): string[] {
  const lines = [`${alias} <subcommand> [<arg> ...]. Subcommands are:`];
  for (const c of ADMIN_SUBCOMMANDS) {
    lines.push([c.name, ...c.args].join(' '), `    ${c.help}`);
  }
  return lines;
}
