/**
 * Database spans from @opentelemetry/instrumentation-pg, applied to the `pg` module object this
 * process imports instead of through its require/import hooks: those see pg only if installed
 * before anything imports it (ESM imports are hoisted, and tsx, vitest and the built bundle each
 * load modules their own way), whereas pg's Client.prototype, which the instrumentation wraps, is
 * shared by every pool whenever it was made. Spans are made only inside a trace, so health checks
 * and background sweeps do not each start one. Statements are recorded as text, cut at
 * MAX_STATEMENT_CHARS, never with their values (enhancedDatabaseReporting stays off: they hold
 * customer data).
 */
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import pg from 'pg';
import { PARENT_TRACER_PROVIDER } from './parent-tracer-provider';

const MAX_STATEMENT_CHARS = 500;

let patched = false;

/** Patches pg once per process; each span goes to the tracer provider of the span it runs under. */
export function traceDatabaseCalls(): void {
  if (patched) return;
  const instrumentation = new PgInstrumentation({
    // No require/import hook: the module object is patched below.
    enabled: false,
    requireParentSpan: true,
    // A span per pool checkout would double the spans of a task for little.
    ignoreConnectSpans: true,
    requestHook: (span, { query }) => {
      if (query.text.length > MAX_STATEMENT_CHARS) {
        span.setAttribute('db.query.text', query.text.slice(0, MAX_STATEMENT_CHARS));
      }
    },
  });
  instrumentation.setTracerProvider(PARENT_TRACER_PROVIDER);
  const definition = instrumentation.getModuleDefinitions().find((d) => d.name === 'pg');
  if (!definition?.patch)
    throw new Error('@opentelemetry/instrumentation-pg no longer defines a patch for pg');
  definition.patch(pg);
  patched = true;
}
