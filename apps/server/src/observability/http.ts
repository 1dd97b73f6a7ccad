/**
 * The HTTP side of observability: a server span per request (@fastify/otel, Fastify's own
 * OpenTelemetry plugin, with a child span for the route's handler), a duration sample and two log
 * lines per request (at debug for probes and successful reads: see RequestLogController).
 * /metrics is not on the API's port (which faces users) but on every process's METRICS_PORT
 * listener (metrics-server.ts), which compose does not publish.
 */
import { type Context, context } from '@opentelemetry/api';
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
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
 * A read answered successfully within this time is an ordinary poll: logged at debug. The page
 * polls a job every two seconds per tab, and two info lines per poll cost the API more than
 * the poll itself; every request is still counted and timed in gtm_http_request_duration_seconds.
 */
export const SLOW_REQUEST_MS = 1_000;

const isRead = (req: FastifyRequest) => req.method === 'GET' || req.method === 'HEAD';

/** pino's own check, which Fastify's logger type leaves out; a line not written costs nothing to build. */
const isEnabled = (log: FastifyBaseLogger, level: 'debug' | 'info' | 'error') =>
  (log as Partial<Pick<Logger, 'isLevelEnabled'>>).isLevelEnabled?.(level) ?? true;

/**
 * Fastify's request lines, with three changes: probes (/healthz, /readyz, every few seconds from
 * a load balancer or orchestrator) log at debug, not info; so do reads answered 2xx or 304 within
 * SLOW_REQUEST_MS (writes, errors, refusals and slow reads stay at info); and the lines carry the
 * request's trace_id. Fastify writes "incoming request" before any hook, when no span exists
 * yet, so that line is written by logIncomingRequests instead, from a hook that runs inside the
 * span: at debug for reads (how a read ends decides its level, and only the end is known then).
 */
class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(req)) return;
    const level = error ? 'error' : completedLevel(req, reply);
    if (!isEnabled(reply.log, level)) return;
    inRequestContext(req, () => {
      if (error) {
        reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
      } else {
        reply.log[level]({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
      }
    });
  }
}

function completedLevel(req: FastifyRequest, reply: FastifyReply): 'debug' | 'info' {
  if (UNTRACED_PATHS.has(pathOf(req.url))) return 'debug';
  const ordinaryRead = isRead(req) && reply.statusCode < 400 && reply.elapsedTime < SLOW_REQUEST_MS;
  return ordinaryRead ? 'debug' : 'info';
}

const incomingLevel = (req: FastifyRequest): 'debug' | 'info' =>
  isRead(req) || UNTRACED_PATHS.has(pathOf(req.url)) ? 'debug' : 'info';

export function createRequestLogController(): LogController {
  return new RequestLogController();
}

/** Registered after instrumentHttp (hooks run in order), so the span is active. */
export function logIncomingRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const level = incomingLevel(req);
    if (isEnabled(req.log, level)) req.log[level]({ req }, 'incoming request');
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
