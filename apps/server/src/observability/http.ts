/**
 * The HTTP side of observability: a server span per request (@fastify/otel, Fastify's own
 * OpenTelemetry plugin, with a child span for the route's handler), a duration sample and two log
 * lines per request.
 * /metrics is not on the API's port (which faces users) but on every process's METRICS_PORT
 * listener (metrics-server.ts), which compose does not publish.
 */
import { type Context, context } from '@opentelemetry/api';
import {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Metrics } from './metrics';
import type { Tracing } from './tracing';

export type HttpObservability = {
  metrics: Metrics;
  tracing: Tracing;
  /**
   * bull-board at /admin/queues (distributed mode only): always on the operations listener, and
   * on the API port only behind OPERATOR_API_KEY (see app.ts).
   */
  queueDashboard?: { prefix: string; plugin: FastifyPluginAsync } | null;
};

/** Requests an operator's tooling makes every few seconds: timed, but not worth a trace or an info line each. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

const pathOf = (url: string) => url.split('?', 1)[0] ?? '';

/**
 * A traced request's context, so that its log lines carry its trace_id (the logger's mixin reads
 * the active span). `opentelemetry` is decorated only when tracing is on.
 */
function contextOf(req: FastifyRequest): Context | null {
  return typeof req.opentelemetry === 'function' ? req.opentelemetry().context : null;
}

function inRequestContext(req: FastifyRequest, fn: () => void): void {
  const ctx = contextOf(req);
  if (ctx) context.with(ctx, fn);
  else fn();
}

/**
 * Fastify's request lines, with two changes: probes (/healthz, /readyz, every few seconds from a
 * load balancer or orchestrator) log at debug, not info; and the lines carry the request's
 * trace_id. Fastify writes "incoming request" before any hook, when no span exists yet, so that
 * line is written by logIncomingRequests instead, from a hook that runs inside the span.
 */
class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(req)) return;
    inRequestContext(req, () => {
      if (error) {
        reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
      } else {
        reply.log[levelOf(req)]({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
      }
    });
  }
}

const levelOf = (req: FastifyRequest): 'debug' | 'info' =>
  UNTRACED_PATHS.has(pathOf(req.url)) ? 'debug' : 'info';

export function createRequestLogController(): LogController {
  return new RequestLogController();
}

/** Registered after instrumentHttp (hooks run in order), so the span is active. */
export function logIncomingRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    req.log[levelOf(req)]({ req }, 'incoming request');
    done();
  });
}
/** The route label of a request no route matched: one series, whatever the path (no cardinality blow-up). */
const UNMATCHED_ROUTE = 'unmatched';

const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? UNMATCHED_ROUTE;

export async function instrumentHttp(app: FastifyInstance, deps: HttpObservability): Promise<void> {
  const { metrics, tracing } = deps;
  if (tracing.enabled) {
    // Loaded only when tracing is on: with @opentelemetry/instrumentation it adds ~15 MB to a process.
    const { FastifyOtelInstrumentation } = await import('@fastify/otel');
    const otel = new FastifyOtelInstrumentation({
      ignorePaths: ({ url }) => UNTRACED_PATHS.has(pathOf(url)),
      // A span for each of the dozen hooks a request passes would bury the request's own work.
      instrumentHooks: false,
      requestHook: (span, req) => {
        // The semantic conventions' server span name, and the path without its query string.
        span.updateName(`${req.method} ${routeOf(req)}`);
        span.setAttribute('url.path', pathOf(req.url));
      },
    });
    otel.setTracerProvider(tracing.tracerProvider);
    await app.register(otel.plugin());
  }
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequestDuration.observe(
      { method: req.method, route: routeOf(req), status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
