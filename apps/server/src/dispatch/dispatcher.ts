/**
 * Turns what the database says is queued into tasks, a bounded number at a time and fairly: the
 * queue holds at most `maxDepth` waiting tasks, and each top-up shares that room round-robin
 * across organizations, then across each organization's jobs, so a 10-row job uploaded while a
 * 1,000,000-row job runs is in the queue within one top-up, not behind a million tasks.
 *
 * Safe to run at any time, from any number of processes: the queue ignores ids it already holds
 * and a task for a company that is no longer queued does nothing. Each job's progress through its
 * rows is remembered in memory; a sweep forgets it and walks every active job again, which refills
 * a queue lost with its process or its Redis and picks up companies whose worker died.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { listActiveJobs, listQueuedCompanyIds, settleCancelledJobs } from '../jobs/jobs.repository';
import type { TaskQueue } from '../queue/task-queue';

const DISPATCH_PAGE_ROWS = 1_000;

export type Dispatcher = ReturnType<typeof createDispatcher>;

type ActiveJob = {
  id: string;
  orgId: string;
  traceContext: { traceparent: string; tracestate?: string } | null;
};

/**
 * Runs the enqueue of one page of a job's companies in the trace it belongs to (the upload's, or
 * one of its own for pages far into a large job: observability/dispatch-trace.ts).
 */
export type DispatchInJobTrace = <T>(
  job: ActiveJob,
  firstRowNumber: number,
  fn: () => Promise<T>,
) => Promise<T>;

export function createDispatcher({
  db,
  queue,
  logger,
  maxDepth,
  inJobTrace = (_job, _row, fn) => fn(),
}: {
  db: Db;
  queue: TaskQueue;
  logger: Logger;
  /** Most tasks waiting in the queue after a top-up. */
  maxDepth: number;
  inJobTrace?: DispatchInJobTrace;
}) {
  // Last row number dispatched, per job.
  const cursors = new Map<string, number>();
  let inFlight: Promise<number> | null = null;

  async function dispatchPage(job: ActiveJob, limit: number): Promise<number> {
    const page = await listQueuedCompanyIds(db, job.orgId, job.id, {
      limit,
      afterRow: cursors.get(job.id) ?? null,
    });
    if (page.length === 0) return 0;
    await inJobTrace(job, page[0]!.rowNumber, () =>
      queue.enqueue(
        'enrich-company',
        page.map((c) => ({ id: c.id, payload: { orgId: job.orgId, jobId: job.id, companyId: c.id } })),
      ),
    );
    cursors.set(job.id, page[page.length - 1]!.rowNumber);
    return page.length;
  }

  async function topUpOnce(): Promise<number> {
    const counts = await queue.counts();
    let room = maxDepth - counts.waiting - counts.delayed;
    if (room <= 0) return 0;
    const active = await listActiveJobs(db);
    const activeIds = new Set(active.map((j) => j.id));
    for (const id of cursors.keys()) if (!activeIds.has(id)) cursors.delete(id);

    const byOrg = new Map<string, ActiveJob[]>();
    for (const job of active) byOrg.set(job.orgId, [...(byOrg.get(job.orgId) ?? []), job]);
    const drained = new Set<string>();
    let sent = 0;
    while (room > 0) {
      const orgs = [...byOrg.values()]
        .map((jobs) => jobs.filter((j) => !drained.has(j.id)))
        .filter((jobs) => jobs.length > 0);
      if (orgs.length === 0) break;
      const perOrg = Math.max(1, Math.floor(room / orgs.length));
      for (const jobs of orgs) {
        const perJob = Math.max(1, Math.floor(perOrg / jobs.length));
        for (const job of jobs) {
          if (room <= 0) break;
          const limit = Math.min(perJob, room, DISPATCH_PAGE_ROWS);
          const n = await dispatchPage(job, limit);
          if (n < limit) drained.add(job.id);
          room -= n;
          sent += n;
        }
      }
    }
    return sent;
  }

  /** One top-up at a time per process; callers arriving meanwhile share its result. */
  function topUp(): Promise<number> {
    inFlight ??= topUpOnce().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  return {
    topUp,
    /** Fire and forget, for request handlers: a failure is logged and repaired by the next top-up. */
    dispatchJobInBackground(orgId: string, jobId: string): void {
      // A resumed or retried job has queued companies behind its cursor again.
      cursors.delete(jobId);
      topUp().then(
        (n) => logger.debug({ org_id: orgId, job_id: jobId, tasks: n }, 'queue topped up'),
        (err: unknown) =>
          logger.error({ err, org_id: orgId, job_id: jobId }, 'dispatch failed; the next top-up retries'),
      );
    },
    /** Waits for a top-up in flight (one started by a request, say), so that stopping can close the pool. */
    async idle(): Promise<void> {
      await inFlight?.catch(() => {});
    },
    /**
     * Forget every cursor and top up again: what the queue lost, the database still knows. And
     * companies of cancelled jobs left queued or abandoned become cancelled.
     */
    async sweep(): Promise<number> {
      await inFlight;
      const settled = await settleCancelledJobs(db);
      if (settled > 0) logger.info({ companies: settled }, 'cancelled what cancelled jobs had left');
      cursors.clear();
      return topUp();
    },
  };
}
