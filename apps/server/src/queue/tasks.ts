/**
 * The task catalog: every kind of task the queue carries, with its payload schema. Both queue
 * adapters decode payloads with these schemas, so a malformed message never reaches a handler.
 */
import { z } from 'zod';

/**
 * W3C trace context of whoever enqueued the task, so the worker's span continues the upload's
 * trace across processes (see observability/instrument-queue.ts). Absent when tracing is off.
 */
export const TraceCarrier = z.object({
  traceparent: z.string().max(128),
  tracestate: z.string().max(512).optional(),
});
export type TraceCarrier = z.infer<typeof TraceCarrier>;

export const TASKS = {
  'enrich-company': {
    payload: z.object({
      orgId: z.string(),
      jobId: z.uuid(),
      companyId: z.uuid(),
      trace: TraceCarrier.optional(),
    }),
    /**
     * Deliveries before the queue itself gives up. The handler counts attempts in the database
     * (companies.attempts) and ends the company before this; the cap only stops a poison message.
     */
    maxDeliveries: 25,
    /**
     * Handled together with other tasks of its kind (shared statements, bulk provider calls): what
     * happens below the handler belongs to a batch, not to this company, so the task sets no log
     * context of its own (its handler names its company on the lines about it alone).
     */
    batched: true,
  },
  'ingest-upload': {
    /** Reads a stored upload into its job's rows and companies (jobs.service.ts: acceptUpload). */
    payload: z.object({ orgId: z.string(), jobId: z.uuid(), trace: TraceCarrier.optional() }),
    // Reading is one transaction that either commits or leaves the upload as it was; a reader
    // that keeps failing is retried by the sweep, which finds the job still `ingesting`.
    maxDeliveries: 5,
    batched: false,
  },
} as const;

export type TaskName = keyof typeof TASKS;
export type TaskPayload<N extends TaskName> = z.infer<(typeof TASKS)[N]['payload']>;
export const TASK_NAMES = Object.keys(TASKS) as TaskName[];
