/**
 * SQL for jobs, their companies and rejected rows. Every function takes `db` (a pool or a
 * transaction) first and an org id, and every statement is scoped by that org id.
 */

import type { CompanySortKey, CompanyStatus } from '@gtm-enrich/contracts';
import { and, asc, desc, eq, gt, gte, ilike, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import { type AnyPgColumn, PgTransaction } from 'drizzle-orm/pg-core';
import type { Db } from '../db/database';
import { type CompanyRow, companies, type JobRow, jobs, organizations, rejectedRows } from '../db/schema';
import {
  type CacheFreshness,
  type CacheScope,
  isFreshCacheEntry,
  isVisibleCacheEntry,
} from '../enrichment/enrichment-cache.sql';
import type { JobUsage, ProviderUsage } from '../enrichment/ledger.repository';
import type { JobEstimate, ProviderEstimate } from './estimate';

export async function ensureOrganization(db: Db, orgId: string): Promise<void> {
  await db.insert(organizations).values({ id: orgId, name: orgId }).onConflictDoNothing();
}

export async function insertJob(
  db: Db,
  job: {
    orgId: string;
    providers: JobRow['providers'];
    filename: string | null;
    total: number;
    inputRows: number;
    rejectedRows: number;
    forceRefresh?: boolean;
    maxCredits?: number | null;
  },
): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({
      ...job,
      provider: job.providers[0]!,
      queuedCount: job.total,
      status: job.total === 0 ? 'completed' : 'queued',
    })
    .returning();
  return row!;
}

export async function findJob(db: Db, orgId: string, jobId: string): Promise<JobRow | null> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.orgId, orgId), eq(jobs.id, jobId)));
  return row ?? null;
}

export type JobUsageRow = JobUsage;

function jobWithUsageQuery(db: Db) {
  return db
    .select({
      job: jobs,
      providerCalls: sql<number>`coalesce(u.calls, 0)`.mapWith(Number),
      recordsBilled: sql<number>`coalesce(u.records, 0)`.mapWith(Number),
      credits: sql<number>`coalesce(u.credits, 0)`.mapWith(Number),
      providers: sql<ProviderUsage[]>`coalesce(u.providers, '[]'::jsonb)`,
    })
    .from(jobs)
    .leftJoin(
      sql`lateral (
        select sum(p.calls)::int as calls, sum(p.records)::int as records, sum(p.credits)::int as credits,
               jsonb_agg(to_jsonb(p)) as providers
        from (
          select pc.provider, count(*)::int as calls,
                 coalesce(sum(pc.items) filter (where pc.status between 200 and 299), 0)::int as records,
                 coalesce(sum(pc.credits), 0)::int as credits
          from provider_calls pc where pc.job_id = ${jobs.id}
          group by pc.provider
        ) p
      ) u`,
      sql`true`,
    )
    .where(and(eq(jobs.orgId, sql.placeholder('orgId')), eq(jobs.id, sql.placeholder('jobId'))))
    .prepare('find_job_with_usage');
}

/**
 * A job with its usage from the ledger (as ledger.repository's jobUsages counts it) in one round
 * trip: the page polls this every second or two, so it is a prepared statement.
 */
export async function findJobWithUsage(
  db: Db,
  orgId: string,
  jobId: string,
): Promise<{ job: JobRow; usage: JobUsageRow } | null> {
  // Built once per pool (building it was a fifth of a poll's time in the API); a transaction's
  // statement lives no longer than the transaction.
  const query =
    db instanceof PgTransaction
      ? jobWithUsageQuery(db)
      : prepared(db, 'job with usage', () => jobWithUsageQuery(db));
  const [row] = await query.execute({ orgId, jobId });
  if (!row) return null;
  const { job, ...usage } = row;
  return { job, usage };
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
  if (page.q) where.push(companySearch(page.q));
  return db
    .select()
    .from(companies)
    .where(and(...where))
    .orderBy(asc(companies.rowNumber))
    .limit(page.limit);
}

function companySearch(q: string): SQL {
  const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return or(ilike(companies.domain, pattern), ilike(companies.name, pattern))!;
}

/** How a sort column compares: its SQL expression and the type a cursor's value is cast to. */
type SortColumn = { expr: SQL; type: 'text' | 'numeric' };

// Cursors carry the last row's value: text is compared on its first 200 characters (a
// description can be long), the same prefix everywhere, so pages stay consistent.
const sortText = (column: SQL | AnyPgColumn): SortColumn => ({
  expr: sql`lower(left(${column}, 200))`,
  type: 'text',
});
/** The lower bound of a band ("51-200", "$1M-$10M", "10001+"); null for "Unknown" (as the page sorts them). */
const sortBand = (column: AnyPgColumn): SortColumn => ({
  expr: sql`(select (m[1])::numeric * case upper(coalesce(m[2], '')) when 'K' then 1e3 when 'M' then 1e6 when 'B' then 1e9 when 'T' then 1e12 else 1 end
    from regexp_match(replace(replace(${column}, '$', ''), ',', ''), ${'^\\s*(\\d+(?:\\.\\d+)?)\\s*([KMBTkmbt])?'}) as m)`,
  type: 'numeric',
});

const SORT_COLUMNS: Record<Exclude<CompanySortKey, 'row_number'>, SortColumn> = {
  domain: sortText(companies.domain),
  name: sortText(companies.name),
  status: {
    expr: sql`array_position(array['queued','processing','enriched','not_found','failed','cancelled']::text[], ${companies.status})`,
    type: 'numeric',
  },
  industry: sortText(companies.industry),
  company_size: sortBand(companies.companySize),
  revenue_range: sortBand(companies.revenueRange),
  headquarters: sortText(
    sql`nullif(concat_ws(', ', nullif(trim(${companies.city}), ''), nullif(trim(${companies.region}), ''), nullif(trim(${companies.country}), '')), '')`,
  ),
  website: sortText(companies.website),
  linkedin_url: sortText(companies.linkedinUrl),
  description: sortText(companies.description),
  // Microseconds, as stored: a millisecond Date in a cursor would skip or repeat rows.
  fetched_at: { expr: sql`extract(epoch from ${companies.fetchedAt})`, type: 'numeric' },
  // As numeric, so a cursor's value compares exactly with what the row holds.
  match_confidence: { expr: sql`${companies.matchConfidence}::numeric`, type: 'numeric' },
};

/** Where a sorted page starts: after this row (its sort value, null for a row without one, and row number). */
export type CompanyKeyset = { value: string | null; row: number };

/** The cursor value a sort column can be compared with, checked before it reaches SQL (else a cast error, a 500). */
export function isSortValue(key: CompanySortKey, value: unknown): value is string | null {
  if (value === null) return true;
  if (typeof value !== 'string' || value.length > 1_000 || value.includes('\u0000')) return false;
  return key === 'row_number' || SORT_COLUMNS[key].type === 'text' || /^-?\d{1,40}(\.\d{1,20})?$/.test(value);
}

/** What selects a page of a job's companies: its size, sort, start and filters. */
export type CompanyPageQuery = {
  limit: number;
  sort: { key: CompanySortKey; desc: boolean };
  after: CompanyKeyset | null;
  status?: CompanyStatus;
  q?: string;
  updatedSince?: Date;
  minRow?: number;
  maxRow?: number;
  minConfidence?: number;
};

/**
 * The WHERE and ORDER BY of a page (see listCompaniesSorted), and the sort column's value
 * (null in file order).
 */
function companyPage(orgId: string, jobId: string, page: CompanyPageQuery) {
  const where: SQL[] = [eq(companies.orgId, orgId), eq(companies.jobId, jobId)];
  if (page.status) where.push(eq(companies.status, page.status));
  if (page.q) where.push(companySearch(page.q));
  if (page.updatedSince) where.push(gte(companies.updatedAt, page.updatedSince));
  if (page.minRow !== undefined) where.push(gte(companies.rowNumber, page.minRow));
  if (page.maxRow !== undefined) where.push(lte(companies.rowNumber, page.maxRow));
  if (page.minConfidence !== undefined) where.push(gte(companies.matchConfidence, page.minConfidence));
  const { key, desc: descending } = page.sort;
  if (key === 'row_number') {
    if (page.after) {
      where.push(
        descending ? lt(companies.rowNumber, page.after.row) : gt(companies.rowNumber, page.after.row),
      );
    }
    return {
      where: and(...where),
      orderBy: [descending ? desc(companies.rowNumber) : asc(companies.rowNumber)],
      sortValue: sql<string | null>`null`,
    };
  }
  const { expr, type } = SORT_COLUMNS[key];
  const after = page.after;
  if (after) {
    const laterRow = gt(companies.rowNumber, after.row);
    if (after.value === null) {
      where.push(sql`(${expr}) is null and ${laterRow}`);
    } else {
      const v = type === 'numeric' ? sql`${after.value}::numeric` : sql`${after.value}::text`;
      const beyond = descending ? sql`(${expr}) < ${v}` : sql`(${expr}) > ${v}`;
      where.push(sql`(${beyond} or ((${expr}) = ${v} and ${laterRow}) or (${expr}) is null)`);
    }
  }
  return {
    where: and(...where),
    orderBy: [
      descending ? sql`(${expr}) desc nulls last` : sql`(${expr}) asc nulls last`,
      asc(companies.rowNumber),
    ],
    sortValue: sql<string | null>`(${expr})::text`,
  };
}

/**
 * The version of a row as it stands: the id of the transaction that wrote it (`xmin`). Every
 * write of a row makes a new version with its transaction's id, so a row whose version is the
 * same has not changed since (a conditional answer relies on it: http/conditional.ts).
 */
const rowVersion = sql<string>`${companies}.xmin::text`;

/**
 * File-order pages without a search are what the page polls: their statements are prepared once
 * per shape (which filters are set; 32 shapes at most) instead of built per poll. The shape, or
 * null for any other page.
 */
function fileOrderShape(db: Db, page: CompanyPageQuery): string | null {
  // A transaction's statement lives no longer than the transaction.
  if (page.sort.key !== 'row_number' || page.q || db instanceof PgTransaction) return null;
  return [
    page.sort.desc ? 'desc' : 'asc',
    page.after ? 'after' : '',
    page.status ? 'status' : '',
    page.updatedSince ? 'since' : '',
    page.minRow !== undefined ? 'min' : '',
    page.maxRow !== undefined ? 'max' : '',
    page.minConfidence !== undefined ? 'conf' : '',
  ]
    .filter(Boolean)
    .join('_');
}

function fileOrderPage(shape: string) {
  const parts = new Set(shape.split('_'));
  const p = sql.placeholder;
  const where: SQL[] = [eq(companies.orgId, p('orgId')), eq(companies.jobId, p('jobId'))];
  if (parts.has('status')) where.push(eq(companies.status, p('status')));
  if (parts.has('since')) where.push(sql`${companies.updatedAt} >= ${p('updatedSince')}::timestamptz`);
  if (parts.has('min')) where.push(gte(companies.rowNumber, p('minRow')));
  if (parts.has('max')) where.push(lte(companies.rowNumber, p('maxRow')));
  if (parts.has('conf')) where.push(sql`${companies.matchConfidence} >= ${p('minConfidence')}::real`);
  const descending = parts.has('desc');
  if (parts.has('after')) {
    where.push(descending ? lt(companies.rowNumber, p('afterRow')) : gt(companies.rowNumber, p('afterRow')));
  }
  return { where: and(...where), orderBy: descending ? desc(companies.rowNumber) : asc(companies.rowNumber) };
}

const fileOrderRows = (db: Db, shape: string) => {
  const { where, orderBy } = fileOrderPage(shape);
  return db
    .select({ row: companies, sortValue: sql<string | null>`null`, version: rowVersion })
    .from(companies)
    .where(where)
    .orderBy(orderBy)
    .limit(sql.placeholder('limit'))
    .prepare(`company_rows_${shape}`);
};

const fileOrderVersions = (db: Db, shape: string) => {
  const { where, orderBy } = fileOrderPage(shape);
  return db
    .select({ id: companies.id, version: rowVersion })
    .from(companies)
    .where(where)
    .orderBy(orderBy)
    .limit(sql.placeholder('limit'))
    .prepare(`company_versions_${shape}`);
};

const preparedStatements = new WeakMap<Db, Map<string, unknown>>();

/** The statement `name` of this pool, made by `make` the first time. */
function prepared<T>(db: Db, name: string, make: () => T): T {
  let statements = preparedStatements.get(db);
  if (!statements) {
    statements = new Map();
    preparedStatements.set(db, statements);
  }
  let statement = statements.get(name) as T | undefined;
  if (!statement) {
    statement = make();
    statements.set(name, statement);
  }
  return statement;
}

/** A file-order page's values, by placeholder. */
const params = (orgId: string, jobId: string, page: CompanyPageQuery) => ({
  orgId,
  jobId,
  status: page.status,
  updatedSince: page.updatedSince?.toISOString(),
  minRow: page.minRow,
  maxRow: page.maxRow,
  minConfidence: page.minConfidence,
  afterRow: page.after?.row,
  limit: page.limit,
});

/**
 * A page of a job's companies in any sort, keyset-paginated: ordered by the column (rows
 * without a value last, in both directions), ties in file order; `after` is the last row of the
 * page before. `updatedSince` and `maxRow` narrow it to rows changed since, and rows a client
 * has loaded. Without an index per column PostgreSQL sorts the job's matching rows per page:
 * milliseconds for ten thousand. Each row comes with its version (rowVersion).
 */
export async function listCompaniesSorted(
  db: Db,
  orgId: string,
  jobId: string,
  page: CompanyPageQuery,
): Promise<{ row: CompanyRow; sortValue: string | null; version: string }[]> {
  const shape = fileOrderShape(db, page);
  if (shape)
    return prepared(db, `rows ${shape}`, () => fileOrderRows(db, shape)).execute(params(orgId, jobId, page));
  const { where, orderBy, sortValue } = companyPage(orgId, jobId, page);
  return db
    .select({ row: companies, sortValue, version: rowVersion })
    .from(companies)
    .where(where)
    .orderBy(...orderBy)
    .limit(page.limit);
}

/**
 * The rows listCompaniesSorted would answer, by id and version only: what a page is, without
 * reading what is in it.
 */
export async function listCompanyVersions(
  db: Db,
  orgId: string,
  jobId: string,
  page: CompanyPageQuery,
): Promise<{ id: string; version: string }[]> {
  const shape = fileOrderShape(db, page);
  if (shape) {
    return prepared(db, `versions ${shape}`, () => fileOrderVersions(db, shape)).execute(
      params(orgId, jobId, page),
    );
  }
  const { where, orderBy } = companyPage(orgId, jobId, page);
  return db
    .select({ id: companies.id, version: rowVersion })
    .from(companies)
    .where(where)
    .orderBy(...orderBy)
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

/**
 * Ids of a job's companies that need a task, in row order: queued ones, and processing ones whose
 * lease ran out (their worker died holding them).
 */

export async function listQueuedCompanyIds(
  db: Db,
  orgId: string,
  jobId: string,
  page: { limit: number; afterRow: number | null },
): Promise<{ id: string; rowNumber: number }[]> {
  const where: SQL[] = [
    eq(companies.orgId, orgId),
    eq(companies.jobId, jobId),
    or(
      eq(companies.status, 'queued'),
      and(eq(companies.status, 'processing'), lt(companies.leaseExpiresAt, sql`now()`)),
    )!,
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
export async function listActiveJobs(
  db: Db,
): Promise<{ id: string; orgId: string; traceContext: JobRow['traceContext'] }[]> {
  return db
    .select({ id: jobs.id, orgId: jobs.orgId, traceContext: jobs.traceContext })
    .from(jobs)
    .where(or(eq(jobs.status, 'queued'), eq(jobs.status, 'running')))
    .orderBy(asc(jobs.createdAt));
}

/**
 * Refreshes the planner's statistics after a large upload: with the counts of an empty table it
 * picks plans that walk a whole job for every batch of claims.
 */
export async function analyzeCompanies(db: Db): Promise<void> {
  await db.execute(sql`analyze companies`);
}

/** Companies of a job whose domain has a fresh enrichment-cache entry its organization may read. */
export async function countFreshCacheHits(
  db: Db,
  jobId: string,
  cache: CacheFreshness & { provider: string; scope: CacheScope },
): Promise<number> {
  const r = await db.execute<{ n: number }>(sql`
    select count(*)::int as n
    from companies c
    where c.job_id = ${jobId}
      and exists (
        select 1 from enrichment_cache ec
        where ec.provider = ${cache.provider} and ec.domain = c.domain
          and ${isVisibleCacheEntry(cache.scope, sql`c.org_id`)}
          and ${isFreshCacheEntry(cache)}
      )
  `);
  return r.rows[0]?.n ?? 0;
}

export async function setJobEstimate(
  db: Db,
  jobId: string,
  e: JobEstimate & { providers: ProviderEstimate[] },
): Promise<JobRow> {
  const [row] = await db
    .update(jobs)
    .set({
      estimateCacheHits: e.cacheHits,
      estimateProviderCalls: e.providerCalls,
      estimateCredits: e.credits,
      estimateSeconds: e.seconds,
      estimateProviders: e.providers,
    })
    .where(eq(jobs.id, jobId))
    .returning();
  return row!;
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

/**
 * Continues a paused job. A job whose companies all finished while it was paused (the last ones
 * in flight when it paused) has nothing left to run: it completes here, since no outcome will.
 */
export async function resumeJob(db: Db, orgId: string, jobId: string): Promise<boolean> {
  const nothingLeft = sql`${jobs.queuedCount} = 0 and ${jobs.processingCount} = 0`;
  const rows = await db
    .update(jobs)
    .set({
      status: sql`case when ${nothingLeft} then 'completed' when ${jobs.startedAt} is null then 'queued' else 'running' end`,
      finishedAt: sql`case when ${nothingLeft} then now() else ${jobs.finishedAt} end`,
      errorCode: null,
      errorMessage: null,
    })
    .where(and(eq(jobs.orgId, orgId), eq(jobs.id, jobId), eq(jobs.status, 'paused')))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

// Companies cancelled per statement: the job row is held for one chunk while workers wait to
// write outcomes (a few hundred ms), and a 1,000,000-company job takes 200 statements.
const CANCEL_CHUNK_COMPANIES = 5_000;
// A company row held by an in-flight claim is skipped, then looked at again after this, for at
// most CANCEL_LOCKED_MAX_WAIT_MS (claims hold rows for milliseconds; cancel must answer anyway).
const CANCEL_LOCKED_RETRY_MS = 20;
const CANCEL_LOCKED_MAX_WAIT_MS = 30_000;
const DEADLOCK_DETECTED = '40P01';
const DEADLOCK_MAX_TRIES = 5;

function isDeadlock(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === DEADLOCK_DETECTED) return true;
  }
  return false;
}

/** Runs `statement` again when PostgreSQL broke a deadlock by aborting it (nothing was written). */
async function retryOnDeadlock<T>(statement: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await statement();
    } catch (err) {
      if (!isDeadlock(err) || tries >= DEADLOCK_MAX_TRIES) throw err;
    }
  }
}

/**
 * Stops a job: its queued companies become cancelled (counted as such); companies already being
 * enriched finish normally, and their outcomes are counted as usual. Returns false when the job
 * had already finished (or is still ingesting).
 *
 * Never one statement over all of a job's companies: on a large running job that locked
 * thousands of rows in another order than the workers' batched claims and outcome writes
 * (company-state.repository.ts) and deadlocked against them. Instead:
 * 1. the job row alone becomes cancelled; claims need a queued or running job, so from here on
 *    nothing new starts;
 * 2. its queued companies (and processing ones whose worker died: nobody claims them any more)
 *    become cancelled CANCEL_CHUNK_COMPANIES at a time, each chunk with the job's counters in one
 *    transaction that takes the job row first, then skips company rows another statement holds.
 *    It never waits for a company row, and waits for the job row holding nothing, so it cannot
 *    close a cycle with any writer; a deadlock retry stays as a safety net.
 */
export async function cancelJob(db: Db, orgId: string, jobId: string): Promise<boolean> {
  const flipped = await retryOnDeadlock(() =>
    db.execute<{ id: string }>(sql`
      update jobs set status = 'cancelled', finished_at = now()
      where id = ${jobId} and org_id = ${orgId} and status in ('queued', 'running', 'paused')
      returning id
    `),
  );
  if (flipped.rows.length === 0) return false;
  const giveUpAt = Date.now() + CANCEL_LOCKED_MAX_WAIT_MS;
  for (;;) {
    const moved = await retryOnDeadlock(() => cancelQueuedChunk(db, orgId, jobId));
    if (moved === CANCEL_CHUNK_COMPANIES) continue;
    if (!(await hasUnfinishedUnclaimed(db, orgId, jobId)) || Date.now() > giveUpAt) break;
    // Rows skipped as locked: a claim that began before the job was cancelled still holds them.
    await new Promise((resolve) => setTimeout(resolve, CANCEL_LOCKED_RETRY_MS));
  }
  // A claim that began before step 1 sets its job running when it commits; every such claim held
  // company rows the loop above waited out, so by now each has committed: settle the status.
  await retryOnDeadlock(() =>
    db.execute(sql`
      update jobs set status = 'cancelled'
      where id = ${jobId} and org_id = ${orgId} and status in ('queued', 'running')
    `),
  );
  return true;
}

/** One chunk of step 2 above; returns how many companies it cancelled. */
async function cancelQueuedChunk(db: Db, orgId: string, jobId: string): Promise<number> {
  return db.transaction(async (tx) => {
    // The job row first, as the batched writers with several jobs take it: see cancelJob.
    await tx.execute(sql`select id from jobs where id = ${jobId} and org_id = ${orgId} for no key update`);
    const r = await tx.execute<{ n: number }>(sql`
      with target as (
        select id, status as old_status from companies
        where job_id = ${jobId} and org_id = ${orgId}
          and (status = 'queued' or (status = 'processing' and lease_expires_at < now()))
        limit ${CANCEL_CHUNK_COMPANIES}
        for update skip locked
      ), cancelled as (
        update companies c set status = 'cancelled', lease_expires_at = null, updated_at = now()
        from target t where c.id = t.id
        returning t.old_status
      ), moved as (
        select count(*)::int as n,
               (count(*) filter (where old_status = 'queued'))::int as queued,
               (count(*) filter (where old_status = 'processing'))::int as processing
        from cancelled
      )
      update jobs j
      set status = 'cancelled',
          queued_count = j.queued_count - m.queued,
          processing_count = j.processing_count - m.processing,
          cancelled_count = j.cancelled_count + m.n
      from moved m
      where j.id = ${jobId} and j.org_id = ${orgId}
      returning m.n
    `);
    return r.rows[0]?.n ?? 0;
  });
}

/**
 * Cancelled jobs that still have companies nobody will finish: one released back to the queue
 * after its job was cancelled (a retry, a credit cut), or one whose worker died holding it. Their
 * companies become cancelled too; returns how many. Run by the sweep.
 */
export async function settleCancelledJobs(db: Db): Promise<number> {
  const stale = await db.execute<{ id: string; org_id: string }>(sql`
    select j.id, j.org_id from jobs j
    where j.status = 'cancelled' and (j.queued_count > 0 or j.processing_count > 0)
      and exists (
        select 1 from companies c
        where c.job_id = j.id and (c.status = 'queued' or (c.status = 'processing' and c.lease_expires_at < now()))
      )
  `);
  let settled = 0;
  for (const job of stale.rows) {
    for (;;) {
      const moved = await retryOnDeadlock(() => cancelQueuedChunk(db, job.org_id, job.id));
      settled += moved;
      if (moved < CANCEL_CHUNK_COMPANIES) break;
    }
  }
  return settled;
}

/** Whether the job still has companies nobody will finish: queued, or processing past their lease. */
async function hasUnfinishedUnclaimed(db: Db, orgId: string, jobId: string): Promise<boolean> {
  const r = await db.execute<{ found: boolean }>(sql`
    select exists (
      select 1 from companies
      where job_id = ${jobId} and org_id = ${orgId}
        and (status = 'queued' or (status = 'processing' and lease_expires_at < now()))
    ) as found
  `);
  return r.rows[0]?.found === true;
}

/**
 * Sends a job's dead letters (failed companies, and not-found ones when asked) back to the queue
 * with fresh attempts. Returns how many companies were re-queued.
 */
export async function requeueFinishedCompanies(
  db: Db,
  orgId: string,
  jobId: string,
  opts: { includeNotFound: boolean },
): Promise<number> {
  const statuses = opts.includeNotFound ? ['failed', 'not_found'] : ['failed'];
  const r = await db.execute<{ n: number }>(sql`
    with target as (
      select id, status as old_status from companies
      where job_id = ${jobId} and org_id = ${orgId}
        and status in (select jsonb_array_elements_text(${JSON.stringify(statuses)}::jsonb))
        and exists (select 1 from jobs where id = ${jobId} and org_id = ${orgId} and status in ('running', 'completed'))
      for update
    ), requeued as (
      -- RETURNING sees the new row, so the old status comes from the locked target rows.
      update companies c
      -- From the top of the waterfall: nothing was found, so nothing found is lost. A match is kept
      -- only when it is the first provider's (the step the company starts again at).
      set status = 'queued', attempts = 0, error_code = null, error_message = null, source = null,
          fetched_at = null, updated_at = now(), provider_step = 0, failed_step_error = null,
          step_business_id = case when c.provider_step = 0 then c.step_business_id end,
          provenance = null, match_confidence = null
      from target t where c.id = t.id
      returning t.old_status
    ), moved as (
      select count(*)::int as n,
             (count(*) filter (where old_status = 'failed'))::int as failed,
             (count(*) filter (where old_status = 'not_found'))::int as not_found
      from requeued
    )
    update jobs j
    set queued_count = j.queued_count + m.n, failed_count = j.failed_count - m.failed,
        not_found_count = j.not_found_count - m.not_found,
        -- A no-match is cached: asking again must skip the cache, or it answers the same.
        force_refresh = j.force_refresh or ${opts.includeNotFound},
        status = case when m.n > 0 then 'running' else j.status end,
        finished_at = case when m.n > 0 then null else j.finished_at end
    from moved m
    where j.id = ${jobId} and j.org_id = ${orgId}
    returning m.n
  `);
  return r.rows[0]?.n ?? 0;
}
