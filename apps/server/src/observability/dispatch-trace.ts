/**
 * Which trace a dispatched page of a job's companies belongs to. The upload request's trace
 * context is stored with the job (jobs.trace_context), so the process that enqueues the tasks
 * (the API right after the upload, or whichever worker feeds the queue, whichever comes first:
 * the queue keeps the first task of an id) continues the upload's trace every time.
 *
 * A job of a million companies must not become one trace of millions of spans (collectors drop
 * or refuse such traces, and the SDK's span queue overflows): the companies of the file's first
 * UPLOAD_TRACE_MAX_ROWS rows go in the upload's trace, and each later page gets a trace of its
 * own whose root span links to the upload's.
 */
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { DispatchInJobTrace } from '../dispatch/dispatcher';
import { inSpan, type Tracing } from './tracing';

/** Rows of a file whose companies are traced within the upload's own trace. */
export const UPLOAD_TRACE_MAX_ROWS = 1_000;

export function dispatchInJobTrace(tracing: Tracing, maxRows = UPLOAD_TRACE_MAX_ROWS): DispatchInJobTrace {
  return (job, firstRowNumber, fn) => {
    if (!tracing.enabled) return fn();
    const upload = tracing.extract(job.traceContext ?? undefined);
    const uploadSpan = trace.getSpanContext(upload);
    if (uploadSpan && firstRowNumber <= maxRows) return context.with(upload, fn);
    return inSpan(
      tracing.tracer,
      'dispatch job page',
      {
        kind: SpanKind.INTERNAL,
        parent: ROOT_CONTEXT,
        links: uploadSpan ? [{ context: uploadSpan }] : [],
        attributes: { 'gtm.org_id': job.orgId, 'gtm.job_id': job.id, 'gtm.first_row': firstRowNumber },
      },
      () => fn(),
    );
  };
}
