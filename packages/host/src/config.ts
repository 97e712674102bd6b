import fs from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import {
  type ConnectionConfig,
  type HostPort,
  type MappingSpec,
  type SlotrelayConfig,
  SlotrelayError,
  parseHostPort,
} from '@slotrelay/core';
import { importOptional, installHint } from './optional.js';

/** Bad configuration: one line naming the field and the problem. The CLI prints it and exits 2. */
export class ConfigError extends SlotrelayError {
  constructor(message: string) {
    super('SR_ERR_CONFIG', message);
    this.name = 'ConfigError';
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

/** The default pipeline, in order (DESIGN.md "Config"). */
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
          mappingStrategy: { enum: ['sorted', 'address'] },
          localAddress: { type: 'string', minLength: 1 },
          localPort: { type: 'integer', minimum: 1, maximum: 65535 },
          serverTls: tlsServer,
          clientTls: tlsClient,
          redisUsername: { type: 'string', minLength: 1 },
          redisPassword: { type: 'string', minLength: 1 },
          // At least the 64 KiB a split frame is held anyway; a whole request has no use above 512 MB + lengths.
          maxWholeFrameBytes: { type: 'integer', minimum: 65536, maximum: 1073741824 },
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

const ajv = new Ajv({ allErrors: false, strict: true });
const validateSchema = ajv.compile(configSchema);

/** A connection with its addresses parsed and its mapping worked out. */
export interface ResolvedConnection {
  readonly config: ConnectionConfig;
  readonly seeds: HostPort[];
  readonly spec: MappingSpec;
  /** The address clients know this listener by (its entry in clusterMembers). */
  readonly advertised: HostPort;
}

/** Read and validate a config file. Throws `ConfigError`. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): SlotrelayConfig {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return validateConfig(json, env);
}

/**
 * Validate a config object: the schema first, then what a schema cannot say (unique names and
 * ports, addresses that parse, instance IDs in range, readable TLS files). Fills in defaults and
 * the instance ID from the environment (`instance_id`, `SLOTRELAY_INSTANCE_ID`). Throws `ConfigError`.
 */
export function validateConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): SlotrelayConfig {
  if (!validateSchema(input))
    throw new ConfigError(`config: ${describeSchemaError(validateSchema.errors![0]!, input)}`);
  const config = structuredClone(input) as unknown as SlotrelayConfig;
  const envId = env.SLOTRELAY_INSTANCE_ID || env.instance_id || undefined;
  const names = new Set<string>();
  const ports = new Set<string>();
  config.connections.forEach((c, i) => {
    const at = `connections[${i}]`;
    c.active ??= true;
    c.localAddress ??= '0.0.0.0';
    if (names.has(c.name)) throw new ConfigError(`config: ${at}.name '${c.name}' is used by another connection`);
    names.add(c.name);
    if (c.active) {
      const key = `${c.localAddress}:${c.localPort}`;
      if (ports.has(key))
        throw new ConfigError(`config: ${at}.localPort ${c.localPort} is used by another active connection`);
      ports.add(key);
    }
    if (c.instanceId === undefined && envId !== undefined && c.mappings === 'dynamic') {
      const n = Number(envId);
      if (!Number.isInteger(n) || n < 1)
        throw new ConfigError(`config: environment instance ID should be a positive integer, instead got '${envId}'`);
      c.instanceId = n;
    }
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
  });
  return config;
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
        `config: ${at}.instanceId is missing (set it, or the environment variable instance_id / SLOTRELAY_INSTANCE_ID)`,
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

function describeSchemaError(e: ErrorObject, root: unknown): string {
  const path = jsonPointerToPath(e.instancePath);
  const value = valueAt(root, e.instancePath);
  const got = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  switch (e.keyword) {
    case 'required':
      return `${path || 'the top level'} is missing the required field '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'additionalProperties':
      return `${path || 'the top level'} has an unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    case 'type':
      return `${path} should be ${(e.params as { type: string }).type}, instead got ${got(value)}`;
    case 'enum':
      return `${path} should be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}, instead got ${got(value)}`;
    case 'const':
      return `${path} should be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, instead got ${got(value)}`;
    default:
      return `${path} ${e.message ?? 'is invalid'}, instead got ${got(value)}`;
  }
}

function jsonPointerToPath(p: string): string {
  return p
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

function valueAt(root: unknown, pointer: string): unknown {
  let v: unknown = root;
  for (const s of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[s.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}
