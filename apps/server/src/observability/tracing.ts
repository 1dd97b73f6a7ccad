/**
 * OpenTelemetry traces, one tracer provider per system (tests run several systems in one
 * process), exported as OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT. Without an endpoint the
 * SDK is not even loaded: the tracer is a no-op and no trace context travels in task payloads.
 *
 * Nothing here registers a global tracer provider. The context manager (AsyncLocalStorage) is
 * global, because "the active span" is a property of the async call chain, whichever system
 * started it; so is the W3C propagator, which holds no state and which @fastify/otel reads to
 * continue an incoming request's traceparent. Database spans come from a pg instrumentation
 * patched once per process (instrument-pg.ts) that sends each span to the provider of its parent.
 */
import {
  type Context,
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { TraceCarrier } from '../queue/tasks';
import { spanOwnerProcessor } from './parent-tracer-provider';

export type Tracing = {
  /** True when spans are exported. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** This system's provider, for an instrumentation of its own (@fastify/otel on its app). */
  readonly tracerProvider: TracerProvider;
  /** The active trace as W3C trace-context fields (for a task payload); undefined when tracing is off. */
  inject(ctx?: Context): TraceCarrier | undefined;
  /** The context a carrier (task payload, HTTP headers) continues; the root context when there is none. */
  extract(carrier: Readonly<Record<string, string | string[] | undefined>> | undefined): Context;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
};

const TRACER_NAME = 'gtm-enrich';

/** OTEL_TRACES_SAMPLER's values (the OpenTelemetry specification's, without the Jaeger ones). */
export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];

export type TracingSettings = {
  /** OTLP/HTTP base URL, e.g. http://otel-collector:4318; spans go to <endpoint>/v1/traces. */
  endpoint: string | undefined;
  serviceName: string;
  /** service.version: the server package's version. */
  serviceVersion: string;
  /** service.instance.id: this process (the holder id of its claims). */
  instanceId: string;
  /** OTEL_TRACES_SAMPLER and its argument (the ratio of traceidratio). */
  sampler: TracesSampler;
  samplerArg: number;
  /** OTEL_BSP_*: the batch span processor. */
  batch: {
    scheduleDelayMs: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
    exportTimeoutMs: number;
  };
  /** OTEL_RESOURCE_ATTRIBUTES and the process role; the service.* ones above win. */
  attributes?: Record<string, string>;
};

const getter: TextMapGetter<Readonly<Record<string, string | string[] | undefined>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

const NOOP_PROVIDER = new ProxyTracerProvider();

/** A tracer that never records, whatever another part of the process registers globally. */
export const NOOP_TRACING: Tracing = {
  enabled: false,
  tracer: NOOP_PROVIDER.getTracer(TRACER_NAME),
  tracerProvider: NOOP_PROVIDER,
  inject: () => undefined,
  extract: () => ROOT_CONTEXT,
  forceFlush: async () => {},
  shutdown: async () => {},
};

let globalsRegistered = false;

export async function createTracing(opts: TracingSettings): Promise<Tracing> {
  if (!opts.endpoint) return NOOP_TRACING;

  const [
    {
      TracerProvider,
      BatchSpanProcessor,
      AlwaysOnSampler,
      AlwaysOffSampler,
      TraceIdRatioBasedSampler,
      ParentBasedSampler,
    },
    { OTLPTraceExporter },
    { resourceFromAttributes },
    core,
    hooks,
    { traceDatabaseCalls },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
    import('./instrument-pg'),
  ]);

  const propagator = new core.W3CTraceContextPropagator();
  if (!globalsRegistered) {
    context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(propagator);
    globalsRegistered = true;
  }
  traceDatabaseCalls();

  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const root = opts.sampler.endsWith('always_off')
    ? new AlwaysOffSampler()
    : opts.sampler.endsWith('traceidratio')
      ? new TraceIdRatioBasedSampler(opts.samplerArg)
      : new AlwaysOnSampler();
  const owner: { provider?: TracerProvider } = {};
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...opts.attributes,
      'service.name': opts.serviceName,
      'service.version': opts.serviceVersion,
      'service.instance.id': opts.instanceId,
    }),
    // parentbased_*: a task follows the decision taken for its upload, so a trace is whole or absent.
    sampler: opts.sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root,
    spanProcessors: [
      spanOwnerProcessor(owner),
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: opts.batch.scheduleDelayMs,
        maxQueueSize: opts.batch.maxQueueSize,
        maxExportBatchSize: opts.batch.maxExportBatchSize,
        exportTimeoutMillis: opts.batch.exportTimeoutMs,
      }),
    ],
  });
  owner.provider = provider;

  return {
    enabled: true,
    tracer: provider.getTracer(TRACER_NAME),
    tracerProvider: provider,
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
