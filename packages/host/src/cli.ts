#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createLogger, type LogLevel } from './logger.js';
import { ConfigError } from './config.js';
import { loadConfigFile } from './config-load.js';
import { startDemo } from './demo.js';
import { validateCommand } from './validate.js';
import { Fleet } from './fleet.js';
import { watchConfigFile } from './watch.js';

const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Print one line and exit 2 for configuration problems; anything else is a bug: exit 1. */
function fail(e: unknown): never {
  if (
    e instanceof ConfigError ||
    (e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('SR_ERR'))
  ) {
    for (const line of (e as Error).message.split('\n')) process.stderr.write(`slotrelay: ${line}\n`);
    process.exit(2);
  }
  process.stderr.write(`slotrelay: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

/**
 * SIGINT/SIGTERM: stop accepting, deliver what is due, exit 0. A second signal exits at once. At
 * SIGTERM (what Kubernetes sends) `drain` runs first: not ready at once, still serving for
 * `drainDelayMs`, so new clients go elsewhere before the listeners close (issue 15).
 */
function onShutdown(stop: () => Promise<void>, drain?: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`slotrelay: ${signal}, shutting down\n`);
    (signal === 'SIGTERM' && drain ? drain() : Promise.resolve()).then(stop).then(
      () => process.exit(0),
      (e: unknown) => fail(e),
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

const program = new Command('slotrelay')
  .description('A Redis Cluster proxy fleet: clients given proxy addresses never talk to Redis directly.')
  .version(pkg.version, '-V, --version')
  .option('-c, --config <file>', 'config file (JSON, or YAML for .yaml/.yml)')
  .option('-w, --watch', 'apply changes to the config file while running')
  .addOption(
    new Option('--log-level <level>', 'log level (overrides the config)').choices([
      'debug',
      'info',
      'warn',
      'error',
      'silent',
    ]),
  )
  .action(async (opts: { config?: string; watch?: boolean; logLevel?: LogLevel }) => {
    if (!opts.config) {
      process.stderr.write('slotrelay: --config <file> is required (or run `slotrelay demo`); see --help\n');
      process.exit(2);
    }
    let fleet: Fleet;
    try {
      const config = loadConfigFile(opts.config);
      const log = createLogger(opts.logLevel ?? config.log?.level ?? 'info');
      // A config change of log.level applies unless --log-level pinned it (pino children follow the root).
      const setLogLevel = (level: LogLevel | undefined) => {
        if (!opts.logLevel) (log as unknown as { level: string }).level = level ?? 'info';
      };
      fleet = await Fleet.start(config, {
        configDir: path.dirname(path.resolve(opts.config)),
        log,
        setLogLevel,
        ...(opts.logLevel ? { logLevelPinnedBy: `--log-level ${opts.logLevel}` } : {}),
      });
      const unwatch = opts.watch ? watchConfigFile(opts.config, fleet, log) : () => {};
      process.on('SIGHUP', () => {
        try {
          log.info({ summary: fleet.reloadTls() }, 'SIGHUP: certificates reloaded');
        } catch (e) {
          log.error({ err: (e as Error).message }, 'SIGHUP: certificates not reloaded; the old ones stay in use');
        }
      });
      onShutdown(
        () => {
          unwatch();
          return fleet.stop();
        },
        () => fleet.ops.drain(),
      );
    } catch (e) {
      fail(e);
    }
  });

program
  .command('validate')
  .description(
    'check a config file as the proxy does at start (exit 0, or 2 naming each problem); binds and dials nothing',
  )
  .option('-c, --config <file>', 'config file (JSON, or YAML for .yaml/.yml)')
  .option('--hostname <name>', 'host name for "instanceIdFrom": "ordinal" (default: $HOSTNAME, else this host\'s name)')
  .action((opts: { config?: string; hostname?: string }) => {
    // Commander also takes options named after the program's own from after the subcommand.
    const config = opts.config ?? (program.opts().config as string | undefined);
    if (!config) {
      process.stderr.write('slotrelay: validate needs --config <file>\n');
      process.exit(2);
    }
    const r = validateCommand({ config, ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}) });
    for (const line of r.stdout) process.stdout.write(`${line}\n`);
    for (const line of r.stderr) process.stderr.write(`slotrelay: ${line}\n`);
    process.exit(r.code);
  });

program
  .command('demo')
  .description('start a local 6-node Redis Cluster and a six-proxy fleet in front of it')
  .option('-p, --port <port>', 'first proxy port', '6391')
  .option('--metrics-port <port>', 'metrics and health endpoint port (0: off)', '9121')
  .action(async (opts: { port: string; metricsPort: string }) => {
    const base = Number(opts.port);
    const metricsPort = Number(opts.metricsPort);
    const log = createLogger((program.opts().logLevel as LogLevel | undefined) ?? 'warn');
    try {
      process.stdout.write('slotrelay demo: starting a 6-node Redis Cluster (3 masters, 3 replicas)…\n');
      const demo = await startDemo(base, log, metricsPort > 0 ? metricsPort : undefined);
      const redis = demo.cluster.nodes.map((n) => n.port).join(', ');
      process.stdout.write(
        [
          `Redis Cluster on 127.0.0.1 ports ${redis}`,
          `slotrelay fleet on 127.0.0.1 ports ${base}-${base + demo.cluster.nodes.length - 1} (dynamic mapping)`,
          '',
          'Connect with any cluster client, for example:',
          `  redis-cli -c -p ${base}`,
          `  redis-cli -p ${base} GALLIUMDATA STATUSCLUSTER`,
          ...(metricsPort > 0
            ? [`Metrics: curl http://127.0.0.1:${metricsPort}/metrics (health: /livez, /readyz)`]
            : []),
          '',
          'Ctrl-C stops the fleet and the cluster.',
          '',
        ].join('\n'),
      );
      onShutdown(() => demo.stop());
    } catch (e) {
      fail(e);
    }
  });

program.parseAsync(process.argv).catch(fail);
