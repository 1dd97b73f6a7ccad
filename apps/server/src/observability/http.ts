/**
 * The HTTP side of observability: a server span and a duration sample per request. /metrics is
 * not on the API's port (which faces users) but on every process's METRICS_PORT listener
 * (metrics-server.ts), which compose does not publish.
 */
import { type Context, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
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

/** Requests an operator's tooling makes every few seconds: timed, but not worth a trace each. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);
/** The route label of a request no route matched: one series, whatever the path (no cardinality blow-up). */
const UNMATCHED_ROUTE = 'unmatched';

const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? UNMATCHED_ROUTE;

export async function instrumentHttp(app: FastifyInstance, deps: HttpObservability): Promise<void> {
  const { metrics, tracing } = deps;
  const traced = new WeakMap<FastifyRequest, { span: Span; ctx: Context }>();

  app.addHook('onRequest', (req, _reply, done) => {
    if (!tracing.enabled || UNTRACED_PATHS.has(req.url.split('?', 1)[0] ?? '')) return done();
    const parent = tracing.extract(req.headers);
    const span = tracing.tracer.startSpan(
      `${req.method} ${routeOf(req)}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'http.route': routeOf(req),
          'url.path': req.url.split('?', 1)[0] ?? '',
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    traced.set(req, { span, ctx });
    context.with(ctx, done);
  });
  // Body parsing runs in the socket's async context; enter the request's again before the handler.
  app.addHook('preHandler', (req, _reply, done) => {
    const t = traced.get(req);
    if (t) context.with(t.ctx, done);
    else done();
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequestDuration.observe(
      { method: req.method, route: routeOf(req), status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    const t = traced.get(req);
    if (!t) return;
    t.span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) t.span.setStatus({ code: SpanStatusCode.ERROR });
    t.span.end();
  });
}
