/**
 * Wraps a TaskQueue so that the trace of whoever enqueues (the upload request, a resume) travels
 * in each task's payload and the worker's handling of the task continues it, in another process
 * if need be: one trace from the upload through the queue to the provider call. Each task is
 * timed, and one handled alone (not `batched`) runs with its ids in the log context. Neither
 * adapter knows about any of this.
 */
import { SpanKind } from '@opentelemetry/api';
import { RetryTaskLater, type TaskContext, type TaskHandlers, type TaskQueue } from '../queue/task-queue';
import { TASKS, type TaskName, type TraceCarrier } from '../queue/tasks';
import { runWithLogContext } from './log-context';
import type { Metrics, TaskResult } from './metrics';
import { inSpan, type Tracing } from './tracing';

type ObservablePayload = { orgId?: string; jobId?: string; companyId?: string; trace?: TraceCarrier };

export function instrumentTaskQueue(
  queue: TaskQueue,
  deps: { tracing: Tracing; metrics: Metrics },
): TaskQueue {
  const { tracing, metrics } = deps;

  function observe<P extends ObservablePayload>(
    name: TaskName,
    handler: (payload: P, ctx: TaskContext) => Promise<void>,
  ): (payload: P, ctx: TaskContext) => Promise<void> {
    // A batched task's log context would name whichever company opened a batch on lines about
    // all of its companies. Setting none also spares the worker Node 20's promise hook on every
    // await, which the first context set in a process (a stored upload's read) turns on for good.
    const withContext = TASKS[name].batched
      ? <T>(_payload: P, fn: () => T) => fn()
      : <T>(payload: P, fn: () => T) =>
          runWithLogContext(
            { org_id: payload.orgId, job_id: payload.jobId, company_id: payload.companyId },
            fn,
          );
    return (payload, ctx) => {
      const startedAt = performance.now();
      let result: TaskResult = 'error';
      return withContext(payload, () =>
        inSpan(
          tracing.tracer,
          `task ${name}`,
          {
            kind: SpanKind.CONSUMER,
            parent: tracing.extract(payload.trace),
            attributes: {
              'messaging.system': queue.kind,
              'messaging.operation.type': 'process',
              'messaging.message.delivery': ctx.delivery,
              ...(payload.orgId ? { 'gtm.org_id': payload.orgId } : {}),
              ...(payload.jobId ? { 'gtm.job_id': payload.jobId } : {}),
              ...(payload.companyId ? { 'gtm.company_id': payload.companyId } : {}),
            },
            isFailure: (err) => !(err instanceof RetryTaskLater),
          },
          async () => {
            try {
              await handler(payload, ctx);
              result = 'ok';
            } catch (err) {
              if (err instanceof RetryTaskLater) result = 'retry';
              throw err;
            } finally {
              metrics.taskDuration.observe({ task: name, result }, (performance.now() - startedAt) / 1000);
            }
          },
        ),
      );
    };
  }

  return {
    kind: queue.kind,
    enqueue(name, tasks) {
      return inSpan(
        tracing.tracer,
        `dispatch ${name}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': queue.kind,
            'messaging.operation.type': 'send',
            'messaging.batch.message_count': tasks.length,
          },
        },
        async () => {
          // One carrier for the batch: every task of this dispatch continues the same trace.
          const trace = tracing.inject();
          await queue.enqueue(
            name,
            trace ? tasks.map((t) => ({ id: t.id, payload: { ...t.payload, trace } })) : tasks,
          );
        },
      );
    },
    startWorker(handlers: TaskHandlers, opts) {
      // Listed by name so that a new task kind fails to compile until it is observed too.
      queue.startWorker(
        {
          'enrich-company': observe('enrich-company', handlers['enrich-company']),
          'ingest-upload': observe('ingest-upload', handlers['ingest-upload']),
        },
        opts,
      );
    },
    counts: () => queue.counts(),
    ping: () => queue.ping(),
    close: (o) => queue.close(o),
  };
}
