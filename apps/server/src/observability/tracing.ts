/**
 * OpenTelemetry traces, one tracer provider per system (tests run several systems in one
 * process), exported as OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT. Without an endpoint the
 * SDK is not even loaded: the tracer is a no-op and no trace context travels in task payloads.
 *
 * Nothing here registers a global tracer provider or propagator; only the context manager is
 * global (AsyncLocalStorage), because "the active span" is a property of the async call chain,
 * whichever system started it.
 */
import {
  type Context,
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import type { TraceCarrier } from '../queue/tasks';

export type Tracing = {
  /** True when spans are exported. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** The active trace as W3C trace-context fields (for a task payload); undefined when tracing is off. */
  inject(ctx?: Context): TraceCarrier | undefined;
  /** The context a carrier (task payload, HTTP headers) continues; the root context when there is none. */
  extract(carrier: Readonly<Record<string, string | string[] | undefined>> | undefined): Context;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
};

/** How long finished spans wait to be sent together. */
const SPAN_EXPORT_DELAY_MS = 2_000;
const TRACER_NAME = 'gtm-enrich';

const getter: TextMapGetter<Readonly<Record<string, string | string[] | undefined>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** A tracer that never records, whatever another part of the process registers globally. */
export const NOOP_TRACING: Tracing = {
  enabled: false,
  tracer: new ProxyTracerProvider().getTracer(TRACER_NAME),
  inject: () => undefined,
  extract: () => ROOT_CONTEXT,
  forceFlush: async () => {},
  shutdown: async () => {},
};

let contextManagerRegistered = false;

export async function createTracing(opts: {
  /** OTLP/HTTP base URL, e.g. http://otel-collector:4318; spans go to <endpoint>/v1/traces. */
  endpoint: string | undefined;
  serviceName: string;
  /** Extra resource attributes, e.g. the process role. */
  attributes?: Record<string, string>;
}): Promise<Tracing> {
  if (!opts.endpoint) return NOOP_TRACING;

  const [
    { TracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
    core,
    hooks,
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
  ]);

  if (!contextManagerRegistered) {
    context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
    contextManagerRegistered = true;
  }

  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName, ...opts.attributes }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: SPAN_EXPORT_DELAY_MS })],
  });
  const propagator = new core.W3CTraceContextPropagator();

  return {
    enabled: true,
    tracer: provider.getTracer(TRACER_NAME),
    inject(ctx = context.active()) {
      const carrier: Record<string, string> = {};
      propagator.inject(ctx, carrier, {
        set: (c, k, v) => {
          c[k] = v;
        },
      });
      return carrier.traceparent
        ? {
            traceparent: carrier.traceparent,
            ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
          }
        : undefined;
    },
    extract(carrier) {
      return carrier ? propagator.extract(ROOT_CONTEXT, carrier, getter) : ROOT_CONTEXT;
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Runs `fn` inside a new active span that ends when `fn` settles. A throw marks the span as an
 * error unless `isFailure` says it is an expected outcome (a retry is not a failure).
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions & { parent?: Context; isFailure?: (err: unknown) => boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const { parent, isFailure, ...spanOptions } = options;
  return tracer.startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      if (isFailure?.(err) ?? true) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err instanceof Error ? err.message : String(err),
        });
      } else {
        span.addEvent('retry', { reason: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    } finally {
      span.end();
    }
  });
}
