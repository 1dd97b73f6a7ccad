/**
 * Everything system.ts needs to make one system observable, created once per system: its metrics
 * registry, its tracer (database spans included, see instrument-pg.ts), the queue dashboard
 * (distributed API only) and a worker's metrics listener. Kept here so that the wiring in
 * system.ts stays a few lines.
 */
import type pg from 'pg';
import serverPackage from '../../package.json' with { type: 'json' };
import type { Config } from '../config';
import type { QueueCounts } from '../queue/task-queue';
import { createMetrics, type Metrics } from './metrics';
import { type MetricsServer, startMetricsServer } from './metrics-server';
import type { QueueDashboard } from './queue-dashboard';
import type { Readiness } from './readiness';
import { createTracing, type Tracing } from './tracing';

export type ProcessRole = 'api' | 'worker' | 'embedded';

export type Observability = {
  role: ProcessRole;
  metrics: Metrics;
  tracing: Tracing;
  /** bull-board, when this process serves the API on BullMQ. */
  queueDashboard: QueueDashboard | null;
  /** This process's operations listener (/metrics, /healthz, /admin/queues on METRICS_PORT), once started. */
  readonly metricsUrl: string | null;
  /**
   * Every process listens on METRICS_PORT for /metrics, /healthz, /readyz and the queue dashboard
   * (never on the API's port).
   */
  startMetricsListener(readiness?: Readiness): Promise<void>;
  stop(): Promise<void>;
};

export function processRole(roles: { api: boolean; worker: boolean }): ProcessRole {
  if (roles.api && roles.worker) return 'embedded';
  return roles.api ? 'api' : 'worker';
}

export async function createObservability(opts: {
  config: Config;
  roles: { api: boolean; worker: boolean };
  /** Unused: database spans cover every pool of the process (instrument-pg.ts). */
  pool?: pg.Pool;
  /** The queue dashboard's connection (infrastructure.ts), where this process serves one. */
  queueDashboard: { redisUrl: string; prefix: string } | null;
  queueCounts: () => Promise<QueueCounts>;
  /** This process: service.instance.id on its spans. */
  instanceId: string;
}): Promise<Observability> {
  const { config } = opts;
  const role = processRole(opts.roles);
  const tracing = await createTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME ?? (role === 'embedded' ? 'gtm-enrich' : `gtm-enrich-${role}`),
    serviceVersion: serverPackage.version,
    instanceId: opts.instanceId,
    sampler: config.OTEL_TRACES_SAMPLER,
    samplerArg: config.OTEL_TRACES_SAMPLER_ARG,
    batch: {
      scheduleDelayMs: config.OTEL_BSP_SCHEDULE_DELAY,
      maxQueueSize: config.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: config.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
      exportTimeoutMs: config.OTEL_BSP_EXPORT_TIMEOUT,
    },
    attributes: { ...config.OTEL_RESOURCE_ATTRIBUTES, 'gtm.role': role },
  });
  const metrics = createMetrics({ queueCounts: opts.queueCounts, role });
  const queueDashboard =
    opts.roles.api && opts.queueDashboard
      ? // bull-board loads only in the process that serves it.
        (await import('./queue-dashboard')).createQueueDashboard(opts.queueDashboard)
      : null;
  let server: MetricsServer | null = null;

  return {
    role,
    metrics,
    tracing,
    queueDashboard,
    get metricsUrl() {
      return server?.url ?? null;
    },
    async startMetricsListener(readiness) {
      server ??= await startMetricsServer({
        registry: metrics.registry,
        host: config.HOST,
        port: config.METRICS_PORT,
        dashboard: queueDashboard,
        readiness,
      });
    },
    async stop() {
      await server?.close();
      await queueDashboard?.close();
      // Sends the spans still buffered.
      await tracing.shutdown();
    },
  };
}
