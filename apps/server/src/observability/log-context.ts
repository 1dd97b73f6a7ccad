/**
 * What every log line about a job or a company carries without each caller passing it: the ids
 * of the task being handled (set by the queue instrumentation around each task) and the active
 * trace. Read by the logger's mixin, so a log call deep in the provider client still says which
 * company and which trace it belongs to.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, trace } from '@opentelemetry/api';

export type LogContext = { org_id?: string; job_id?: string; company_id?: string };

const store = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with `ids` attached to every log line written inside it (nested calls add to it). */
export function runWithLogContext<T>(ids: LogContext, fn: () => T): T {
  return store.run({ ...store.getStore(), ...ids }, fn);
}

/** The pino mixin: the current ids and, when a span is active, its trace and span ids. */
export function logContextMixin(): Record<string, string> {
  const out: Record<string, string> = { ...store.getStore() };
  const span = trace.getActiveSpan();
  if (span) {
    const ctx = span.spanContext();
    if (isSpanContextValid(ctx)) {
      out.trace_id = ctx.traceId;
      out.span_id = ctx.spanId;
    }
  }
  return out;
}
