/**
 * SQL for jobs, their companies and rejected rows. Every function takes `db` (a pool or a
 * transaction) first and an org id, and every statement is scoped by that org id.
 */

import type { CompanyStatus } from '@gtm-enrich/contracts';
import { and, asc, desc, eq, gt, ilike, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { type CompanyRow, companies, type JobRow, jobs, organizations, rejectedRows } from '../db/schema';

const INSERT_CHUNK_ROWS = 2_000;

export type NewCompany = { domain: string; input: string; rowNumber: number };
export type NewRejectedRow = { rowNumber: number; raw: string; reason: string; message: string };

export async function ensureOrganization(db: Db, orgId: string): Promise<void> {
  await db.insert(organizations).values({ id: orgId, name: orgId }).onConflictDoNothing();
}

export async function insertJob(
  db: Db,
  job: {
    orgId: string;
    provider: JobRow['provider'];
    filename: string | null;
    total: number;
    inputRows: number;
    rejectedRows: number;
  },
): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({ ...job, queuedCount: job.total, status: job.total === 0 ? 'completed' : 'queued' })
    .returning();
  return row!;
}

export async function insertCompanies(
  db: Db,
  orgId: string,
  jobId: string,
  rows: readonly NewCompany[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK_ROWS) {
    await db
      .insert(companies)
      .values(rows.slice(i, i + INSERT_CHUNK_ROWS).map((r) => ({ ...r, orgId, jobId })));
  }
}

export async function insertRejectedRows(
  db: Db,
  orgId: string,
  jobId: string,
  rows: readonly NewRejectedRow[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK_ROWS) {
    await db
      .insert(rejectedRows)
      .values(rows.slice(i, i + INSERT_CHUNK_ROWS).map((r) => ({ ...r, orgId, jobId })));
  }
}

export async function findJob(db: Db, orgId: string, jobId: string): Promise<JobRow | null> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.orgId, orgId), eq(jobs.id, jobId)));
  return row ?? null;
}

/** Newest first; the cursor is the last row's (created_at, id). */
export async function listJobs(
  db: Db,
  orgId: string,
  page: { limit: number; after: { createdAt: Date; id: string } | null },
): Promise<JobRow[]> {
  const where: SQL[] = [eq(jobs.orgId, orgId)];
  if (page.after) {
    where.push(
      or(
        lt(jobs.createdAt, page.after.createdAt),
        and(eq(jobs.createdAt, page.after.createdAt), lt(jobs.id, page.after.id)),
      )!,
    );
  }
  return db
    .select()
    .from(jobs)
    .where(and(...where))
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(page.limit);
}

/** In the file's row order; the cursor is the last row number. */
export async function listCompanies(
  db: Db,
  orgId: string,
  jobId: string,
  page: { limit: number; afterRow: number | null; status?: CompanyStatus; q?: string },
): Promise<CompanyRow[]> {
  const where: SQL[] = [eq(companies.orgId, orgId), eq(companies.jobId, jobId)];
  if (page.status) where.push(eq(companies.status, page.status));
  if (page.afterRow !== null) where.push(gt(companies.rowNumber, page.afterRow));
  if (page.q) {
    const pattern = `%${page.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(or(ilike(companies.domain, pattern), ilike(companies.name, pattern))!);
  }
  return db
    .select()
    .from(companies)
    .where(and(...where))
    .orderBy(asc(companies.rowNumber))
    .limit(page.limit);
}

export async function listRejectedRows(
  db: Db,
  orgId: string,
  jobId: string,
  page: { limit: number; afterRow: number | null },
) {
  const where: SQL[] = [eq(rejectedRows.orgId, orgId), eq(rejectedRows.jobId, jobId)];
  if (page.afterRow !== null) where.push(gt(rejectedRows.rowNumber, page.afterRow));
  return db
    .select()
    .from(rejectedRows)
    .where(and(...where))
    .orderBy(asc(rejectedRows.rowNumber))
    .limit(page.limit);
}

/** Ids of a job's queued companies, in row order, for dispatch. */
export async function listQueuedCompanyIds(
  db: Db,
  orgId: string,
  jobId: string,
  page: { limit: number; afterRow: number | null },
): Promise<{ id: string; rowNumber: number }[]> {
  const where: SQL[] = [
    eq(companies.orgId, orgId),
    eq(companies.jobId, jobId),
    eq(companies.status, 'queued'),
  ];
  if (page.afterRow !== null) where.push(gt(companies.rowNumber, page.afterRow));
  return db
    .select({ id: companies.id, rowNumber: companies.rowNumber })
    .from(companies)
    .where(and(...where))
    .orderBy(asc(companies.rowNumber))
    .limit(page.limit);
}

/** Jobs that may have queued companies to dispatch (at start-up, to refill a lost queue). */
export async function listActiveJobs(db: Db): Promise<{ id: string; orgId: string }[]> {
  return db
    .select({ id: jobs.id, orgId: jobs.orgId })
    .from(jobs)
    .where(or(eq(jobs.status, 'queued'), eq(jobs.status, 'running')))
    .orderBy(asc(jobs.createdAt));
}

// ---------------------------------------------------------------------------------------------
// Company state changes. Each is one statement that moves the company only if it is in the
// expected state and moves the job's counters by exactly what moved, so a task delivered twice,
// or a worker racing another, changes nothing the second time.

const COUNTER: Record<CompanyStatus, string> = {
  queued: 'queued_count',
  processing: 'processing_count',
  enriched: 'enriched_count',
  not_found: 'not_found_count',
  failed: 'failed_count',
  cancelled: 'cancelled_count',
};

export type ClaimedCompany = {
  id: string;
  jobId: string;
  orgId: string;
  domain: string;
  attempts: number;
};

/**
 * queued → processing, with a lease. A processing company whose lease ran out (its worker died)
 * can be claimed again; it was already counted as processing, so the counters stay.
 * Nothing is claimed while the job is paused, cancelled or finished.
 */
export async function claimCompany(
  db: Db,
  orgId: string,
  companyId: string,
  leaseMs: number,
): Promise<ClaimedCompany | null> {
  const result = await db.execute<{
    id: string;
    job_id: string;
    org_id: string;
    domain: string;
    attempts: number;
  }>(sql`
    with target as (
      select c.id, c.status as old_status
      from companies c join jobs j on j.id = c.job_id
      where c.id = ${companyId} and c.org_id = ${orgId}
        and j.status in ('queued', 'running')
        and (c.status = 'queued' or (c.status = 'processing' and c.lease_expires_at < now()))
      for update of c skip locked
    ), claimed as (
      update companies c
      set status = 'processing', attempts = c.attempts + 1, updated_at = now(),
          lease_expires_at = now() + make_interval(secs => ${leaseMs / 1000})
      from target where c.id = target.id
      returning c.id, c.job_id, c.org_id, c.domain, c.attempts, target.old_status
    ), moved as (
      select count(*)::int as n from claimed where old_status = 'queued'
    )
    , bumped as (
      update jobs
      set queued_count = queued_count - (select n from moved),
          processing_count = processing_count + (select n from moved),
          status = 'running', started_at = coalesce(started_at, now())
      where id = (select job_id from claimed) and org_id = ${orgId}
      returning id
    )
    select claimed.id, claimed.job_id, claimed.org_id, claimed.domain, claimed.attempts
    from claimed left join bumped on true
  `);
  const row = result.rows[0];
  return row
    ? { id: row.id, jobId: row.job_id, orgId: row.org_id, domain: row.domain, attempts: row.attempts }
    : null;
}

export type CompanyFields = Partial<
  Pick<
    CompanyRow,
    | 'businessId'
    | 'name'
    | 'industry'
    | 'companySize'
    | 'revenueRange'
    | 'country'
    | 'region'
    | 'city'
    | 'website'
    | 'linkedinUrl'
    | 'description'
    | 'errorCode'
    | 'errorMessage'
    | 'enrichedAt'
  >
>;

const FIELD_COLUMN: Record<keyof CompanyFields, string> = {
  businessId: 'business_id',
  name: 'name',
  industry: 'industry',
  companySize: 'company_size',
  revenueRange: 'revenue_range',
  country: 'country',
  region: 'region',
  city: 'city',
  website: 'website',
  linkedinUrl: 'linkedin_url',
  description: 'description',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  enrichedAt: 'enriched_at',
};

export type TransitionResult = { moved: boolean; jobCompleted: boolean };

/**
 * Moves one company from `from` to `to`, setting `fields`, and the job's counters with it. When
 * this leaves the job with nothing queued or processing, the same statement completes the job:
 * exactly one transition can be the one that empties it.
 */
export async function transitionCompany(
  db: Db,
  t: {
    orgId: string;
    companyId: string;
    from: CompanyStatus;
    to: CompanyStatus;
    fields?: CompanyFields;
    /** Give back the attempt the claim counted (the failure was not the company's). */
    refundAttempt?: boolean;
  },
): Promise<TransitionResult> {
  const sets: SQL[] = [sql`status = ${t.to}`, sql`updated_at = now()`, sql`lease_expires_at = null`];
  for (const [key, value] of Object.entries(t.fields ?? {}) as [keyof CompanyFields, unknown][]) {
    sets.push(sql`${sql.identifier(FIELD_COLUMN[key])} = ${value}`);
  }
  if (t.refundAttempt) sets.push(sql`attempts = greatest(attempts - 1, 0)`);
  const fromCol = sql.identifier(COUNTER[t.from]);
  const toCol = sql.identifier(COUNTER[t.to]);
  // New counter values, written out because SET expressions all see the row's old values.
  const queuedAfter =
    t.from === 'queued'
      ? sql`queued_count - 1`
      : t.to === 'queued'
        ? sql`queued_count + 1`
        : sql`queued_count`;
  const processingAfter =
    t.from === 'processing'
      ? sql`processing_count - 1`
      : t.to === 'processing'
        ? sql`processing_count + 1`
        : sql`processing_count`;
  const result = await db.execute<{ status: string; completed_now: boolean }>(sql`
    with moved as (
      update companies set ${sql.join(sets, sql`, `)}
      where id = ${t.companyId} and org_id = ${t.orgId} and status = ${t.from}
      returning job_id
    )
    update jobs
    set ${fromCol} = ${fromCol} - 1,
        ${toCol} = ${toCol} + 1,
        status = case when status = 'running' and ${queuedAfter} = 0 and ${processingAfter} = 0
                      then 'completed' else status end,
        finished_at = case when status = 'running' and ${queuedAfter} = 0 and ${processingAfter} = 0
                           then now() else finished_at end
    where id = (select job_id from moved) and org_id = ${t.orgId}
    returning status, (status = 'completed' and finished_at = now()) as completed_now
  `);
  const row = result.rows[0];
  return { moved: row !== undefined, jobCompleted: row?.completed_now === true };
}

/** A job-level stop the user must act on (bad key, no credits): nothing more is claimed until resumed. */
export async function pauseJob(
  db: Db,
  orgId: string,
  jobId: string,
  error: { code: string; message: string },
) {
  const rows = await db
    .update(jobs)
    .set({ status: 'paused', errorCode: error.code, errorMessage: error.message })
    .where(
      and(
        eq(jobs.orgId, orgId),
        eq(jobs.id, jobId),
        or(eq(jobs.status, 'queued'), eq(jobs.status, 'running')),
      ),
    )
    .returning({ id: jobs.id });
  return rows.length > 0;
}

export async function resumeJob(db: Db, orgId: string, jobId: string): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({
      status: sql`case when ${jobs.startedAt} is null then 'queued' else 'running' end`,
      errorCode: null,
      errorMessage: null,
    })
    .where(and(eq(jobs.orgId, orgId), eq(jobs.id, jobId), eq(jobs.status, 'paused')))
    .returning({ id: jobs.id });
  return rows.length > 0;
}
