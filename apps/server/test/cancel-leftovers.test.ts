/**
 * What a cancelled job has left is cancelled by the sweep: a company released back to the queue
 * after the cancel (a retry, a credit cut), and one whose worker died holding it.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import { claimCompanies, transitionCompany } from '../src/enrichment/company-state.repository';
import { cancelJob, findJob, insertJob, settleCancelledJobs } from '../src/jobs/jobs.repository';
import { expectJobInvariants } from './invariants';
import { insertCompanies, openMigratedTestDatabase } from './test-database';

const ORG = 'acme';

describe('companies a cancelled job left behind', () => {
  let database: DatabaseHandle;
  let closeDb: () => Promise<void>;
  beforeAll(async () => {
    ({ database, close: closeDb } = await openMigratedTestDatabase(ORG));
  });
  afterAll(async () => {
    await closeDb?.();
  });

  it('become cancelled at the next sweep, with the job counters', async () => {
    const job = await insertJob(database.db, {
      orgId: ORG,
      providers: ['sandbox'],
      filename: 'x.csv',
      total: 3,
      inputRows: 3,
      rejectedRows: 0,
    });
    await insertCompanies(
      database.db,
      ORG,
      job.id,
      ['a.com', 'b.com', 'c.com'].map((domain, i) => ({ domain, input: domain, rowNumber: i + 1 })),
    );
    const ids = (
      await database.db.execute<{ id: string }>(
        sql`select id from companies where job_id = ${job.id} order by row_number`,
      )
    ).rows.map((r) => r.id);
    const claim = {
      provider: 'sandbox',
      token: randomUUID(),
      leaseMs: 60_000,
      cacheTtlMs: 86_400_000,
      noMatchCacheTtlMs: 3_600_000,
    };
    // Two companies in a worker's hands when the job is cancelled; the third is cancelled at once.
    expect(
      await claimCompanies(
        database.db,
        claim,
        ids.slice(0, 2).map((companyId) => ({ orgId: ORG, jobId: job.id, companyId })),
      ),
    ).toHaveLength(2);
    expect(await cancelJob(database.db, ORG, job.id)).toBe(true);
    expect(await findJob(database.db, ORG, job.id)).toMatchObject({
      status: 'cancelled',
      processingCount: 2,
    });

    // One is released back to the queue (a retry), the other's worker dies (its lease runs out).
    await transitionCompany(database.db, {
      orgId: ORG,
      companyId: ids[0]!,
      from: 'processing',
      to: 'queued',
    });
    await database.db.execute(
      sql`update companies set lease_expires_at = now() - interval '1 second' where id = ${ids[1]!}`,
    );
    expect(await settleCancelledJobs(database.db)).toBe(2);
    expect(await findJob(database.db, ORG, job.id)).toMatchObject({
      status: 'cancelled',
      queuedCount: 0,
      processingCount: 0,
      cancelledCount: 3,
    });
    expect(await settleCancelledJobs(database.db)).toBe(0);
    await expectJobInvariants(database.db);
  });
});
