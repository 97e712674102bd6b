import { Ajv } from 'ajv';
import {
  type ConnectionConfig,
  type HostPort,
  type MappingSpec,
  type SlotrelayConfig,
  SlotrelayError,
  parseHostPort,
} from '@slotrelay/core';
import type { RedisAuth } from '@slotrelay/core/internal';
import { importOptional, installHint } from './optional.js';
import { describeSchemaErrors } from './config-errors.js';
import { fillInstanceId } from './instance-id.js';

/**
 * Bad configuration: one line per problem, each naming the field and the problem (the message is
 * the lines joined by newlines). The CLI prints them and exits 2.
 */
export class ConfigError extends SlotrelayError {
  constructor(message: string) {
    super('SR_ERR_CONFIG', message);
    this.name = 'ConfigError';
  }

  /** One error per line. */
  get lines(): string[] {
    return this.message.split('\n');
  }
}

type TransportTls = typeof import('@slotrelay/transport-tls');

// Optional: loaded once here (config validation is synchronous); only a TLS config needs it.
const transportTls = await importOptional<TransportTls>('@slotrelay/transport-tls');

/** @slotrelay/transport-tls, or a `ConfigError` saying that `field` needs it installed. */
export function requireTls(field: string): TransportTls {
  if (!transportTls)
    throw new ConfigError(
      `config: ${field}.enabled needs @slotrelay/transport-tls ${installHint('@slotrelay/transport-tls')}`,
    );
  return transportTls;
}

/** The default pipeline, in order (docs/ARCHITECTURE.md "Config"). */
export const DEFAULT_MIDDLEWARE = [
  '@slotrelay/middleware-redirect',
  '@slotrelay/middleware-cluster-cmds',
  '@slotrelay/middleware-admin',
];

const tlsServer = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled'],
  properties: {
    enabled: { type: 'boolean' },
    trustServerCertificate: { type: 'boolean' },
    ca: { type: 'string', minLength: 1 },
    cert: { type: 'string', minLength: 1 },
    key: { type: 'string', minLength: 1 },
    servername: { type: 'string', minLength: 1 },
  },
};

const tlsClient = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled'],
  properties: {
    enabled: { type: 'boolean' },
    cert: { type: 'string', minLength: 1 },
    key: { type: 'string', minLength: 1 },
    ca: { type: 'string', minLength: 1 },
    requireClientCert: { type: 'boolean' },
  },
};

/** JSON Schema of the config file (also used to validate CONFIG PATCH results). */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connections'],
  properties: {
    $schema: { type: 'string' },
    connections: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'type', 'redisServers', 'mappings', 'clusterMembers', 'localPort'],
        properties: {
          name: { type: 'string', minLength: 1 },
          active: { type: 'boolean' },
          type: { const: 'RedisCluster' },
          redisServers: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          mappings: { enum: ['dynamic', 'static'] },
          clusterMembers: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          instanceId: { type: 'integer', minimum: 1 },
          instanceIdFrom: { enum: ['ordinal'] },
          mappingStrategy: { enum: ['sorted', 'address'] },
          localAddress: { type: 'string', minLength: 1 },
          localPort: { type: 'integer', minimum: 1, maximum: 65535 },
          serverTls: tlsServer,
          clientTls: tlsClient,
          redisUsername: { type: 'string', minLength: 1 },
          redisPassword: { type: 'string', minLength: 1 },
          // At least the 64 KiB a split frame is held anyway; a whole request has no use above 512 MB + lengths.
          maxWholeFrameBytes: { type: 'integer', minimum: 65536, maximum: 1073741824 },
          // Redis's maxclients, tcp-keepalive (seconds, 0: off) and defaults; connect: the 3 s that was fixed.
          maxClients: { type: 'integer', minimum: 1, maximum: 1000000 },
          tcpKeepalive: { type: 'integer', minimum: 0, maximum: 86400 },
          connectTimeoutMs: { type: 'integer', minimum: 1, maximum: 600000 },
          timeout: { type: 'integer', minimum: 0 },
          // Issue 16: shared upstream connections.
          multiplex: { type: 'boolean' },
          upstreamPool: {
            type: 'object',
            additionalProperties: false,
            properties: { size: { type: 'integer', minimum: 1, maximum: 64 } },
          },
        },
      },
    },
    middleware: { type: 'array', items: { type: 'string', minLength: 1 } },
    adminPassword: { type: 'string', minLength: 1 },
    adminReadsRequireAuth: { type: 'boolean' },
    allowNetworkPatch: { type: 'boolean' },
    topologyCheckIntervalMs: { type: 'integer', minimum: 0 },
    shutdownGraceMs: { type: 'integer', minimum: 0 },
    // Issue 15 (operations): the HTTP endpoint for /metrics, /livez, /readyz; the SIGTERM drain delay.
    drainDelayMs: { type: 'integer', minimum: 0 },
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['port'],
      properties: {
        address: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    middlewareConfig: { type: 'object', additionalProperties: { type: 'object' } },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['debug', 'info', 'warn', 'error', 'silent'] } },
    },
  },
} as const;

// allErrors: every problem of a file is reported at once; verbose: unknown fields get a did-you-mean.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
const validateSchema = ajv.compile(configSchema);

/** A connection with its addresses parsed and its mapping worked out. */
export interface ResolvedConnection {
  readonly config: ConnectionConfig;
  readonly seeds: HostPort[];
  readonly spec: MappingSpec;
  /** The address clients know this listener by (its entry in clusterMembers). */
  readonly advertised: HostPort;
}

/**
 * Validate a config object: the schema first, then what a schema cannot say (unique names and
 * ports, addresses that parse, instance IDs in range, readable TLS files). Fills in defaults and
 * the instance ID (`fillInstanceId`: the environment, then `instanceIdFrom`). Throws `ConfigError`
 * with every schema error, or the first problem of each connection, one line each.
 */
export function validateConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): SlotrelayConfig {
  if (!validateSchema(input))
    throw new ConfigError(
      describeSchemaErrors(validateSchema.errors ?? [], input)
        .map((line) => `config: ${line}`)
        .join('\n'),
    );
  const config = structuredClone(input) as unknown as SlotrelayConfig;
  const names = new Set<string>();
  const ports = new Set<string>();
  const errors: string[] = [];
  config.connections.forEach((c, i) => {
    const at = `connections[${i}]`;
    c.active ??= true;
    c.localAddress ??= '0.0.0.0';
    try {
      checkConnection(c, at, names, ports, env);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      errors.push(...e.lines);
    }
  });
  if (errors.length) throw new ConfigError(errors.join('\n'));
  return config;
}

/** What a schema cannot say about one connection; the first problem of it is thrown. */
function checkConnection(
  c: ConnectionConfig,
  at: string,
  names: Set<string>,
  ports: Set<string>,
  env: NodeJS.ProcessEnv,
): void {
  if (names.has(c.name)) throw new ConfigError(`config: ${at}.name '${c.name}' is used by another connection`);
  names.add(c.name);
  if (c.active) {
    const key = `${c.localAddress}:${c.localPort}`;
    if (ports.has(key))
      throw new ConfigError(`config: ${at}.localPort ${c.localPort} is used by another active connection`);
    ports.add(key);
  }
  const why = fillInstanceId(c, at, env);
  if (why !== undefined) throw new ConfigError(`config: ${why}`);
  resolveConnection(c, at);
  for (const side of ['serverTls', 'clientTls'] as const) {
    const tls = c[side];
    if (!tls?.enabled) continue;
    const { loadTlsMaterial } = requireTls(`${at}.${side}`);
    if (side === 'clientTls' && (!c.clientTls!.cert || !c.clientTls!.key)) {
      throw new ConfigError(`config: ${at}.clientTls needs both cert and key when enabled`);
    }
    if (side === 'clientTls' && c.clientTls!.requireClientCert && !c.clientTls!.ca) {
      // Without a CA of our own, Node would accept any certificate from the public roots.
      throw new ConfigError(
        `config: ${at}.clientTls.requireClientCert needs clientTls.ca, the CA client certificates must chain to`,
      );
    }
    try {
      // Read and check the files now: a bad PEM or a key of another certificate fails at load, not at first use.
      loadTlsMaterial(side, { ca: tls.ca, cert: tls.cert, key: tls.key });
    } catch (e) {
      throw new ConfigError(`config: ${at}.${(e as Error).message}`);
    }
  }
}

/** Parse a validated connection's addresses and mapping. Throws `ConfigError` naming the field. */
export function resolveConnection(c: ConnectionConfig, at = `connection '${c.name}'`): ResolvedConnection {
  const parse = (text: string, field: string) => {
    try {
      return parseHostPort(text, field);
    } catch (e) {
      throw new ConfigError(`config: ${(e as Error).message}`);
    }
  };
  const seeds = c.redisServers.map((s, j) => parse(s, `${at}.redisServers[${j}]`));
  if (c.mappings === 'dynamic') {
    const members = c.clusterMembers.map((m, j) => {
      if (m.includes('='))
        throw new ConfigError(
          `config: ${at}.clusterMembers[${j}] should be proxyHost:port with dynamic mappings, instead got '${m}'`,
        );
      return parse(m, `${at}.clusterMembers[${j}]`);
    });
    if (c.instanceId === undefined) {
      throw new ConfigError(
        `config: ${at}.instanceId is missing (set it, the environment variable SLOTRELAY_INSTANCE_ID / instance_id, or "instanceIdFrom": "ordinal")`,
      );
    }
    if (c.instanceId > members.length) {
      throw new ConfigError(
        `config: ${at}.instanceId should be between 1 and ${members.length} (the number of clusterMembers), instead got ${c.instanceId}`,
      );
    }
    const spec: MappingSpec = {
      mode: 'dynamic',
      members,
      instanceId: c.instanceId,
      strategy: c.mappingStrategy ?? 'sorted',
    };
    return { config: c, seeds, spec, advertised: members[c.instanceId - 1]! };
  }
  if (seeds.length !== 1) {
    throw new ConfigError(
      `config: ${at}.redisServers should hold exactly the one Redis node this proxy fronts with static mappings, instead got ${seeds.length}`,
    );
  }
  const entries = c.clusterMembers.map((m, j) => {
    const eq = m.indexOf('=');
    if (eq < 0)
      throw new ConfigError(
        `config: ${at}.clusterMembers[${j}] should be redisHost:port=proxyHost:port with static mappings, instead got '${m}'`,
      );
    return {
      redis: parse(m.slice(0, eq), `${at}.clusterMembers[${j}]`),
      proxy: parse(m.slice(eq + 1), `${at}.clusterMembers[${j}]`),
    };
  });
  const own = entries.find((e) => e.redis.host === seeds[0]!.host && e.redis.port === seeds[0]!.port);
  if (!own)
    throw new ConfigError(`config: ${at}.clusterMembers has no entry for its own Redis node ${c.redisServers[0]}`);
  return { config: c, seeds, spec: { mode: 'static', entries, upstream: seeds[0]! }, advertised: own.proxy };
}

/** The credentials a connection's discovery sends (AUTH), if any. */
export function redisAuthOf(c: ConnectionConfig): RedisAuth | undefined {
  if (!c.redisPassword) return undefined;
  return { password: c.redisPassword, ...(c.redisUsername ? { username: c.redisUsername } : {}) };
}
