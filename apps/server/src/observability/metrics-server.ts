/**
 * The operations listener on METRICS_PORT: Prometheus's /metrics, the container runtime's
 * /healthz and /readyz (a worker has no other listener), and the queue dashboard (/admin/queues) where this process has one. It faces
 * operators, never users: compose does not publish it, `npm start` binds it to loopback. The
 * dashboard lives here because it shows every organization's tasks and the Redis server itself,
 * which no tenant's key may open (on the API port it needs OPERATOR_API_KEY).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness';

export type MetricsServer = { url: string; close(): Promise<void> };

export async function startMetricsServer(opts: {
  registry: Registry;
  host: string;
  /** 0 = any free port. */
  port: number;
  /** bull-board, served under its prefix (distributed API only). */
  dashboard?: { prefix: string; plugin: FastifyPluginAsync } | null;
  /** /readyz: this process's checks, the same answer as the API's /readyz. */
  readiness?: Readiness;
}): Promise<MetricsServer> {
  // A Fastify instance with no server of its own: requests under the dashboard's prefix are handed to its router.
  const dashboard = opts.dashboard ? Fastify({ logger: false }) : null;
  if (dashboard && opts.dashboard) {
    await dashboard.register(opts.dashboard.plugin, { prefix: opts.dashboard.prefix });
    await dashboard.ready();
  }
  const dashboardPrefix = opts.dashboard?.prefix;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (
      dashboard &&
      dashboardPrefix &&
      (path === dashboardPrefix || path.startsWith(`${dashboardPrefix}/`))
    ) {
      dashboard.routing(req, res);
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      opts.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    const readiness = opts.readiness;
    if (req.method === 'GET' && path === '/readyz' && readiness) {
      readiness().then(({ ready, checks }) => {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks }));
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(
      `not found: this listener serves /metrics, /healthz${readiness ? ', /readyz' : ''}${dashboardPrefix ? ` and ${dashboardPrefix}` : ''}\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const hostForUrl = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${hostForUrl}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await dashboard?.close();
    },
  };
}
