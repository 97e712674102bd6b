import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@slotrelay/core';
import { ConfigError } from './config.js';
import type { FleetMetrics } from './metrics.js';

/** One listener's readiness, as `/readyz?verbose` lists it. */
export interface ReadinessCheck {
  readonly name: string;
  readonly ready: boolean;
  /** Why not, when not ready. */
  readonly reason?: string;
}

/** What the operations endpoint serves. */
export interface OpsServerOptions {
  readonly address: string;
  readonly port: number;
  readonly metrics: FleetMetrics;
  /** Every check; the process is ready when each one is. */
  readonly readiness: () => ReadinessCheck[];
  readonly log: Logger;
}

/** The running operations endpoint. */
export interface OpsServer {
  /** The bound port (the configured one, or the one picked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The process's HTTP endpoint for operators (`metrics` in the config): `/metrics` (Prometheus text),
 * `/livez` (200 while the event loop runs: answering is the proof), `/readyz` (200 when every
 * listener is ready, else 503; `?verbose` lists each check as Kubernetes' own `/readyz?verbose` does:
 * `[+]name ok` / `[-]name not ready: reason`). GET and HEAD only.
 */
export function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    void handle(o, req, res).catch((e: unknown) => {
      o.log.error({ err: (e as Error).message, path: req.url }, 'metrics endpoint failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new ConfigError(`metrics: cannot listen on ${o.address}:${o.port}: ${e.code ?? e.message}`)),
    );
    server.listen(o.port, o.address, () => {
      server.on('error', (e) => o.log.error({ err: e.message }, 'metrics endpoint error'));
      const port = (server.address() as AddressInfo).port;
      o.log.info({ address: `${o.address}:${port}` }, 'metrics and health endpoint listening');
      resolve({
        port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function handle(o: OpsServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  switch (url.pathname) {
    case '/metrics': {
      const { body, contentType } = await o.metrics.text();
      res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    case '/livez':
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    case '/readyz': {
      const checks = o.readiness();
      const ready = checks.length > 0 && checks.every((c) => c.ready);
      const lines = url.searchParams.has('verbose')
        ? checks.map((c) => (c.ready ? `[+]${c.name} ok` : `[-]${c.name} not ready: ${c.reason ?? 'unknown'}`))
        : [];
      lines.push(ready ? 'ready' : 'not ready');
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${lines.join('\n')}\n`);
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /livez, /readyz\n');
  }
}
