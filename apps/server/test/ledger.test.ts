/**
 * The credit ledger's writes: calls that end together share one statement, and each still gets
 * its own answer (the jobs it paused), against a real PostgreSQL.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import { findJob, insertJob } from '../src/jobs/jobs.repository';
import { CREDIT_LIMIT_REACHED, jobUsages, recordProviderCall } from '../src/jobs/ledger.repository';
import { openMigratedTestDatabase } from './test-database';

const ORG = 'acme';

describe('credit ledger', () => {
  let database: DatabaseHandle;
  let closeDb: () => Promise<void>;

  beforeAll(async () => {
    ({ database, close: closeDb } = await openMigratedTestDatabase(ORG));
  });
  afterAll(async () => {
    await closeDb?.();
  });

  const newJob = (maxCredits: number | null) =>
    insertJob(database.db, {
      orgId: ORG,
      provider: 'sandbox',
      filename: 'x.csv',
      total: 100,
      inputRows: 100,
      rejectedRows: 0,
      maxCredits,
    });

  const call = (jobId: string, credits: number, correlationId: string) => ({
    provider: 'sandbox',
    endpoint: 'bulk_enrich' as const,
    status: 200,
    durationMs: 12.4,
    correlationId,
    perJob: [{ orgId: ORG, jobId, items: 50, credits }],
  });

  it('records every one of many calls made at once, each row as it was reported', async () => {
    const job = await newJob(null);
    const paused = await Promise.all(
      Array.from({ length: 30 }, (_, i) => recordProviderCall(database.db, call(job.id, i, `c-${i}`))),
    );
    expect(paused.every((p) => p.length === 0)).toBe(true);
    const usage = (await jobUsages(database.db, [job.id])).get(job.id);
    expect(usage).toEqual({ providerCalls: 30, recordsBilled: 1500, credits: (29 * 30) / 2 });
    const rows = await database.db.execute<{ correlation_id: string; credits: number; duration_ms: number }>(
      sql`select correlation_id, credits, duration_ms from provider_calls where job_id = ${job.id} order by credits`,
    );
    expect(rows.rows.map((r) => r.correlation_id)).toEqual(Array.from({ length: 30 }, (_, i) => `c-${i}`));
    expect(rows.rows.every((r) => r.duration_ms === 12)).toBe(true);
    expect((await findJob(database.db, ORG, job.id))?.status).toBe('queued');
  });

  it('pauses a job once its calls reach max_credits, counting the calls written in the same statement', async () => {
    const job = await newJob(100);
    const other = await newJob(100);
    // 40 + 40 stay under the limit; the third call, whichever statement carries it, reaches it.
    const paused = await Promise.all([
      recordProviderCall(database.db, call(job.id, 40, 'a')),
      recordProviderCall(database.db, call(job.id, 40, 'b')),
      recordProviderCall(database.db, call(other.id, 10, 'x')),
      recordProviderCall(database.db, call(job.id, 40, 'c')),
    ]);
    // Reported once, by one of the calls that charged the job.
    expect(paused.flat()).toEqual([job.id]);
    expect(paused[2]).toEqual([]);
    const stopped = await findJob(database.db, ORG, job.id);
    expect(stopped?.status).toBe('paused');
    expect(stopped?.errorCode).toBe(CREDIT_LIMIT_REACHED);
    expect((await findJob(database.db, ORG, other.id))?.status).toBe('queued');
  });

  it('writes inside a transaction when given one', async () => {
    const job = await newJob(10);
    const paused = await database.db.transaction((tx) => recordProviderCall(tx, call(job.id, 10, 'tx')));
    expect(paused).toEqual([job.id]);
    expect((await jobUsages(database.db, [job.id])).get(job.id)?.credits).toBe(10);
  });
});
