/**
 * Turns what the database says is queued into tasks. Runs after an upload commits, when a job
 * resumes, and when a worker starts (which refills a queue lost with its process or its Redis).
 * Safe to run at any time: the queue ignores ids it already holds and a task for a company that
 * is no longer queued does nothing.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import type { TaskQueue } from '../queue/task-queue';
import { listActiveJobs, listQueuedCompanyIds } from './jobs.repository';

const DISPATCH_PAGE_ROWS = 1_000;

export type Dispatcher = ReturnType<typeof createDispatcher>;

export function createDispatcher({ db, queue, logger }: { db: Db; queue: TaskQueue; logger: Logger }) {
  async function dispatchJob(orgId: string, jobId: string): Promise<number> {
    let afterRow: number | null = null;
    let sent = 0;
    for (;;) {
      const page = await listQueuedCompanyIds(db, orgId, jobId, { limit: DISPATCH_PAGE_ROWS, afterRow });
      if (page.length === 0) break;
      await queue.enqueue(
        'enrich-company',
        page.map((c) => ({ id: c.id, payload: { orgId, jobId, companyId: c.id } })),
      );
      sent += page.length;
      afterRow = page[page.length - 1]!.rowNumber;
    }
    return sent;
  }

  return {
    dispatchJob,
    /** Fire and forget, for request handlers: a failure is logged and repaired by the next sweep. */
    dispatchJobInBackground(orgId: string, jobId: string): void {
      dispatchJob(orgId, jobId).then(
        (n) => logger.info({ org_id: orgId, job_id: jobId, tasks: n }, 'job dispatched'),
        (err: unknown) =>
          logger.error({ err, org_id: orgId, job_id: jobId }, 'dispatch failed; the next sweep retries'),
      );
    },
    async dispatchAllActive(): Promise<number> {
      let sent = 0;
      for (const job of await listActiveJobs(db)) sent += await dispatchJob(job.orgId, job.id);
      return sent;
    },
  };
}
