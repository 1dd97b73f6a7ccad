/**
 * Cancel of a large job while workers write outcomes as fast as they can: it once locked every
 * company of the job in one statement and deadlocked against the batched claims and outcome
 * writes (500 "deadlock detected", and the job kept running).
 */
import type { Job } from '@gtm-enrich/contracts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, queueKinds, startTestSystem, type TestSystem, upload } from './test-system';

const COMPANIES = 200_000;
// Enough finished that every worker is mid-flow, few enough that most of the job is still queued.
const CANCEL_AFTER_FINISHED = 3_000;

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;
}

describe('cancel of a 200,000-company job while it runs', () => {
  let api: TestSystem;
  let worker: TestSystem;
  // Two worker processes' worth of batched writers: the shape the deadlock needed.
  const queue = queueKinds().includes('bullmq') ? 'bullmq' : 'in-process';
  beforeAll(async () => {
    const env = { WORKER_CONCURRENCY: '500', UPLOAD_INLINE_MAX_ROWS: '1000' };
    api = await startTestSystem({ queue, env });
    worker =
      queue === 'bullmq'
        ? await startTestSystem({ queue, env, shareWith: api, roles: { api: false, worker: true } })
        : api;
  }, 60_000);
  afterAll(async () => {
    if (worker !== api) await worker?.stop();
    await api?.stop();
  });

  it('answers 200, stops the job, and leaves its counters equal to its companies', async () => {
    const domains = Array.from({ length: COMPANIES }, (_, i) => `large-cancel-${i}.com`);
    const res = await upload(api.baseUrl, csvFile(['domain', ...domains]));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as Job;
    await expect
      .poll(
        async () => {
          const { counts } = await getJob(api, id);
          return counts.enriched + counts.not_found;
        },
        { timeout: 60_000, interval: 100 },
      )
      .toBeGreaterThanOrEqual(CANCEL_AFTER_FINISHED);

    const cancelled = await apiFetch(`${api.baseUrl}/api/v1/jobs/${id}/cancel?org_id=acme`, {
      method: 'POST',
    });
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as Job).status).toBe('cancelled');

    // Companies in flight finish normally; nothing new starts.
    await expect.poll(async () => (await getJob(api, id)).counts.processing, { timeout: 20_000 }).toBe(0);
    const job = await getJob(api, id);
    expect(job.status).toBe('cancelled');
    expect(job.finished_at).not.toBeNull();
    expect(job.counts.queued).toBe(0);
    expect(job.counts.cancelled).toBeGreaterThan(COMPANIES / 2);
    expect(job.counts.enriched + job.counts.not_found + job.counts.failed + job.counts.cancelled).toBe(
      COMPANIES,
    );
    await expectJobInvariants(api.system.database.db);
  }, 120_000);
});

describe('cancel against an outcome write that holds the job row', () => {
  let t: TestSystem;
  beforeAll(async () => {
    // No worker: this test plays the worker's part itself, statement by statement.
    t = await startTestSystem({ roles: { api: true, worker: false } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('neither waits for the other forever nor fails: the outcome is written, then the job is cancelled', async () => {
    const domains = Array.from({ length: 20 }, (_, i) => `locked-cancel-${i}.com`);
    const { id } = (await (await upload(t.baseUrl, csvFile(['domain', ...domains]))).json()) as Job;
    const worker = new pg.Client({ connectionString: t.databaseUrl });
    await worker.connect();
    try {
      // A company whose worker is slow: processing, its lease already over.
      const [company] = (
        await worker.query<{ id: string }>(
          `update companies set status = 'processing', lease_expires_at = now() - interval '1 minute'
           where id = (select id from companies where job_id = $1 order by row_number limit 1) returning id`,
          [id],
        )
      ).rows;
      await worker.query(
        'update jobs set queued_count = queued_count - 1, processing_count = processing_count + 1 where id = $1',
        [id],
      );
      // An outcome write for several jobs takes their rows first, then its companies'.
      await worker.query('begin');
      await worker.query('select id from jobs where id = $1 for no key update', [id]);

      const cancel = apiFetch(`${t.baseUrl}/api/v1/jobs/${id}/cancel?org_id=acme`, { method: 'POST' });
      // Cancel now waits for the job row (or, before, held the company and then waited for it).
      await expect
        .poll(async () => {
          const r = await t.system.database.pool.query<{ n: number }>(
            'select count(*)::int as n from pg_locks where not granted',
          );
          return r.rows[0]!.n;
        })
        .toBeGreaterThan(0);
      await worker.query(
        `update companies set status = 'enriched', lease_expires_at = null where id = $1 and status = 'processing'`,
        [company!.id],
      );
      await worker.query(
        'update jobs set processing_count = processing_count - 1, enriched_count = enriched_count + 1 where id = $1',
        [id],
      );
      await worker.query('commit');

      const res = await cancel;
      expect(res.status).toBe(200);
      const job = (await res.json()) as Job;
      expect(job.status).toBe('cancelled');
      expect(job.counts).toMatchObject({ enriched: 1, processing: 0, queued: 0, cancelled: 19 });
      await expectJobInvariants(t.system.database.db);
    } finally {
      await worker.end();
    }
  });
});
