/**
 * The tracer provider of instrumentations that patch a module once for the whole process
 * (instrumentation-pg patches pg's Client.prototype): each span they start goes to the tracer
 * provider that made its parent span. One process may hold several systems, each with its own
 * provider (the tests run an API and a worker side by side), and nothing here is registered
 * globally, so "the" provider of a patched module is whichever made the span it runs under.
 * Without a parent from one of ours the span is a no-op: no trace of its own for a statement
 * outside a request or task (instrumentation-pg's requireParentSpan stops most of those earlier).
 */
import {
  type Context,
  context,
  ProxyTracerProvider,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';

/** The provider of every span started by one of ours, while the span lives. */
const owners = new WeakMap<Span, TracerProvider>();

/** A provider without a delegate: its tracers make non-recording spans. */
const NOOP_PROVIDER = new ProxyTracerProvider();

/**
 * A span processor for `provider`'s own list: it notes which provider started each span. `provider`
 * is read when a span starts, so it may be set after the processor is given to the provider.
 */
export function spanOwnerProcessor(owner: { provider?: TracerProvider }) {
  return {
    onStart(span: Span) {
      if (owner.provider) owners.set(span, owner.provider);
    },
    onEnd() {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

class ParentTracer implements Tracer {
  constructor(
    private readonly name: string,
    private readonly version: string | undefined,
    private readonly options: TracerOptions | undefined,
  ) {}

  private tracerFor(ctx: Context): Tracer {
    const parent = trace.getSpan(ctx);
    const provider = (parent && owners.get(parent)) ?? NOOP_PROVIDER;
    return provider.getTracer(this.name, this.version, this.options);
  }

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    return this.tracerFor(ctx).startSpan(name, options, ctx);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : {};
    const ctx = rest.length > 2 ? (rest[1] as Context) : context.active();
    const fn = rest[rest.length - 1] as F;
    return this.tracerFor(ctx).startActiveSpan(name, options, ctx, fn);
  }
}

export const PARENT_TRACER_PROVIDER: TracerProvider = {
  getTracer: (name, version, options) => new ParentTracer(name, version, options),
};
