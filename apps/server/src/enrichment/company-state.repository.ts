/**
 * Company state changes. Each moves companies only if they are in the expected state and moves
 * their jobs' counters by exactly what moved, in one statement, so a task delivered twice, or a
 * worker racing another, changes nothing the second time (docs/adr/0001).
 *
 * Claims and outcomes are written in batches (many companies, one statement). Every batch first
 * locks its jobs' rows in id order, so two workers writing batches that share jobs wait for each
 * other instead of deadlocking.
 */

import type { CompanyStatus } from '@gtm-enrich/contracts';
import { type SQL, sql } from 'drizzle-orm';
import {
  type Db,
  executePrepared,
  inTransaction,
  type PooledConnection,
  type Transaction,
} from '../db/database';
import type { CompanyRow } from '../db/schema';
import type { Firmographics } from '../providers/provider';
import { type CacheScope, isFreshCacheEntry, isVisibleCacheEntry } from './enrichment-cache.sql';

const COUNTER: Record<CompanyStatus, string> = {
  queued: 'queued_count',
  processing: 'processing_count',
  enriched: 'enriched_count',
  not_found: 'not_found_count',
  failed: 'failed_count',
  cancelled: 'cancelled_count',
};

export type CachedResult = {
  businessId: string | null;
  firmographics: Firmographics | null;
  fetchedAt: Date;
};

export type ClaimedCompany = {
  id: string;
  jobId: string;
  orgId: string;
  domain: string;
  attempts: number;
  /** Matched by an earlier attempt: a retry enriches it instead of matching again. */
  businessId: string | null;
  /** A fresh enrichment-cache entry for the domain, unless the job forces a refresh. */
  cached: CachedResult | null;
};

export type ClaimOptions = {
  /** Provider whose cache entries count (results of one provider are not another's). */
  provider: string;
  /** This worker process: its claims carry it, and only it renews their leases. */
  token: string;
  leaseMs: number;
  cacheTtlMs: number;
  noMatchCacheTtlMs: number;
  /** Whose enrichment-cache entries answer a claim: its organization's only (`org`, the default), or any. */
  cacheScope?: CacheScope;
};

/**
 * Runs `statement` so that batches sharing jobs cannot deadlock: a batch of one job is one
 * statement (its UPDATE takes the one job row); a batch of several first locks their rows in id
 * order, in a transaction.
 */
async function withJobsLocked<T>(
  db: Db,
  jobIds: string[],
  statement: (on: Db | PooledConnection) => Promise<T>,
): Promise<T> {
  const unique = [...new Set(jobIds)].sort();
  if (unique.length === 1) return statement(db);
  const lock = sql`select id from jobs where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(unique)}::jsonb)) order by id for no key update`;
  return inTransaction(db, async (on) => {
    await executePrepared(on, 'lock_jobs', lock);
    return statement(on);
  });
}

/**
 * queued → processing, with a lease. A processing company whose lease ran out (its worker died)
 * can be claimed again; it was already counted as processing, so the counters stay. Nothing is
 * claimed while its job is paused, cancelled or finished. Ask only for companies this worker does
 * not have in hand: one it claimed already (opts.token) is claimed again.
 */
export async function claimCompanies(
  db: Db,
  opts: ClaimOptions,
  items: ReadonlyArray<{ orgId: string; jobId: string; companyId: string }>,
): Promise<ClaimedCompany[]> {
  if (items.length === 0) return [];
  const input = JSON.stringify(items.map((i) => ({ id: i.companyId, org_id: i.orgId })));
  return withJobsLocked(
    db,
    items.map((i) => i.jobId),
    async (tx) => {
      const result = await executePrepared<{
        id: string;
        job_id: string;
        org_id: string;
        domain: string;
        attempts: number;
        business_id: string | null;
        cache_hit: boolean;
        cache_business_id: string | null;
        cache_firmographics: Firmographics | null;
        cache_fetched_at: string | Date | null;
      }>(
        tx,
        'claim_companies',
        sql`
      with input as (
        select * from jsonb_to_recordset(${input}::jsonb) as i(id uuid, org_id text)
      ), target as (
        select c.id, c.status as old_status
        from companies c
        join jobs j on j.id = c.job_id
        -- = any(array) lets the planner walk the primary key even when the table's statistics
        -- are stale, as they are right after an upload; a join on the recordset alone did not.
        where c.id = any(${sql.param(items.map((i) => i.companyId))}::uuid[])
          and exists (select 1 from input i where i.id = c.id and i.org_id = c.org_id)
          and j.status in ('queued', 'running')
          -- Also a claim of this worker's own whose answer was lost with its connection: the
          -- caller asks only for companies it does not have in hand, so repeating it is safe.
          and (c.status = 'queued'
               or (c.status = 'processing' and (c.lease_expires_at < now() or c.claim_token = ${opts.token}::uuid)))
        for update of c skip locked
      ), claimed as (
        update companies c
        set status = 'processing', attempts = c.attempts + 1, updated_at = now(),
            lease_expires_at = now() + make_interval(secs => ${opts.leaseMs / 1000}),
            claim_token = ${opts.token}::uuid
        from target t where c.id = t.id
        returning c.id, c.job_id, c.org_id, c.domain, c.attempts, c.business_id, t.old_status
      ), per_job as (
        select job_id, (count(*) filter (where old_status = 'queued'))::int as n from claimed group by job_id
      ), bumped as (
        update jobs j
        set queued_count = j.queued_count - p.n, processing_count = j.processing_count + p.n,
            -- Only a queued job starts running: a cancel or pause that committed while this
            -- claim waited for the job row must stand.
            status = case when j.status = 'queued' then 'running' else j.status end,
            started_at = coalesce(j.started_at, now())
        from per_job p where j.id = p.job_id
        returning j.id
      )
      select cl.id, cl.job_id, cl.org_id, cl.domain, cl.attempts, cl.business_id,
             ec.domain is not null as cache_hit, ec.business_id as cache_business_id,
             ec.firmographics as cache_firmographics, ec.fetched_at as cache_fetched_at
      from claimed cl
      join jobs j on j.id = cl.job_id
      left join lateral (
        select * from enrichment_cache ec
        where ec.provider = ${opts.provider} and ec.domain = cl.domain and not j.force_refresh
          and ${isVisibleCacheEntry(opts.cacheScope ?? 'org', sql`cl.org_id`)}
          and ${isFreshCacheEntry({ ttlMs: opts.cacheTtlMs, noMatchTtlMs: opts.noMatchCacheTtlMs })}
        order by ec.fetched_at desc limit 1
      ) ec on true
    `,
      );
      return result.rows.map((r) => ({
        id: r.id,
        jobId: r.job_id,
        orgId: r.org_id,
        domain: r.domain,
        attempts: r.attempts,
        businessId: r.business_id,
        cached: r.cache_hit
          ? {
              businessId: r.cache_business_id,
              firmographics: r.cache_firmographics,
              fetchedAt: new Date(r.cache_fetched_at ?? Date.now()),
            }
          : null,
      }));
    },
  );
}

export type CompanyOutcome = {
  orgId: string;
  jobId: string;
  companyId: string;
  domain: string;
  to: 'enriched' | 'not_found' | 'failed';
  source: 'provider' | 'cache' | null;
  businessId: string | null;
  firmographics: Firmographics | null;
  fetchedAt: Date | null;
  error: { code: string; message: string } | null;
  /** Store this provider answer in the enrichment cache. */
  cacheWrite: boolean;
};

export type FinishResult = { completedJobs: { orgId: string; jobId: string }[] };

/**
 * processing → enriched | not_found | failed for a batch, with the job counters, the cache hits,
 * the enrichment cache itself, and the completion of every job this batch empties.
 */
export async function finishCompanies(
  db: Db,
  provider: string,
  outcomes: readonly CompanyOutcome[],
): Promise<FinishResult> {
  if (outcomes.length === 0) return { completedJobs: [] };
  const input = JSON.stringify(
    outcomes.map((o) => ({
      id: o.companyId,
      org_id: o.orgId,
      domain: o.domain,
      to_status: o.to,
      source: o.source,
      business_id: o.businessId,
      // Sent once: the statement takes the company's columns from it (see `f` below).
      firmographics: o.firmographics,
      error_code: o.error?.code ?? null,
      error_message: o.error?.message ?? null,
      fetched_at: o.fetchedAt?.toISOString() ?? null,
      cache_write: o.cacheWrite,
    })),
  );
  return withJobsLocked(
    db,
    outcomes.map((o) => o.jobId),
    async (tx) => {
      const result = await executePrepared<{ id: string; org_id: string; completed_now: boolean }>(
        tx,
        'finish_companies',
        sql`
      with input as (
        select * from jsonb_to_recordset(${input}::jsonb) as i(
          id uuid, org_id text, domain text, to_status text, source text, business_id text, firmographics jsonb,
          error_code text, error_message text, fetched_at timestamptz, cache_write boolean)
      ), moved as (
        update companies c
        set status = i.to_status, source = i.source, business_id = i.business_id, name = f.name,
            industry = f.industry, company_size = f."companySize",
            revenue_range = case when i.to_status = 'enriched' then coalesce(f."revenueRange", 'Unknown') end,
            country = f.country, region = f.region, city = f.city, website = f.website,
            linkedin_url = f."linkedinUrl", description = f.description,
            signals = nullif(i.firmographics -> 'signals', 'null'::jsonb),
            error_code = i.error_code, error_message = i.error_message, fetched_at = i.fetched_at,
            enriched_at = case when i.to_status = 'enriched' then now() else null end,
            lease_expires_at = null, claim_token = null, updated_at = now()
        -- The input drives the join, one primary-key lookup per row. An added 'c.id = any(...)'
        -- made the planner scan the ids first and rescan the whole input for each of them.
        from input i
        left join lateral jsonb_to_record(i.firmographics) as f(
          name text, industry text, "companySize" text, "revenueRange" text, country text, region text,
          city text, website text, "linkedinUrl" text, description text) on true
        where c.id = i.id and c.org_id = i.org_id and c.status = 'processing'
        returning c.job_id, c.status, c.source
      ), cached as (
        -- Each entry is the paying organization's; ENRICHMENT_CACHE_SCOPE decides who reads it.
        insert into enrichment_cache (provider, domain, org_id, business_id, firmographics, fetched_at)
        select distinct on (org_id, domain) ${provider}, domain, org_id, business_id, firmographics, fetched_at
        from input where cache_write order by org_id, domain
        on conflict (provider, domain, org_id) do update
          set business_id = excluded.business_id, firmographics = excluded.firmographics,
              fetched_at = excluded.fetched_at
      ), per_job as (
        select job_id, count(*)::int as n,
          (count(*) filter (where status = 'enriched'))::int as enriched,
          (count(*) filter (where status = 'not_found'))::int as not_found,
          (count(*) filter (where status = 'failed'))::int as failed,
          (count(*) filter (where source = 'cache'))::int as hits
        from moved group by job_id
      )
      update jobs j
      set processing_count = j.processing_count - p.n,
          enriched_count = j.enriched_count + p.enriched,
          not_found_count = j.not_found_count + p.not_found,
          failed_count = j.failed_count + p.failed,
          cache_hits = j.cache_hits + p.hits,
          status = case when j.status = 'running' and j.queued_count = 0 and j.processing_count - p.n = 0
                        then 'completed' else j.status end,
          finished_at = case when j.status = 'running' and j.queued_count = 0 and j.processing_count - p.n = 0
                             then now() else j.finished_at end
      from per_job p where j.id = p.job_id
      returning j.id, j.org_id, (j.status = 'completed' and j.finished_at = now()) as completed_now
    `,
      );
      return {
        completedJobs: result.rows
          .filter((r) => r.completed_now)
          .map((r) => ({ orgId: r.org_id, jobId: r.id })),
      };
    },
  );
}

/**
 * Extends the leases of the companies this worker still holds; returns the ids it still holds.
 * A company missing from the answer was taken over (its lease ran out while this process was
 * frozen or cut off) or finished elsewhere: this worker must not spend anything more on it.
 */
export async function renewLeases(
  db: Db,
  opts: { token: string; leaseMs: number },
  companyIds: readonly string[],
): Promise<Set<string>> {
  if (companyIds.length === 0) return new Set();
  const result = await executePrepared<{ id: string }>(
    db,
    'renew_leases',
    sql`
    update companies set lease_expires_at = now() + make_interval(secs => ${opts.leaseMs / 1000})
    where id = any(${sql.param(companyIds)}::uuid[]) and status = 'processing' and claim_token = ${opts.token}::uuid
    returning id
  `,
  );
  return new Set(result.rows.map((r) => r.id));
}

export type CompanyFields = Partial<Pick<CompanyRow, 'errorCode' | 'errorMessage' | 'businessId'>>;

/**
 * One company from `from` to `to` (a release back to queued, for a retry or a paused job). When
 * this leaves the job with nothing queued or processing, the same statement completes it.
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
): Promise<{ moved: boolean; jobCompleted: boolean }> {
  const sets: SQL[] = [
    sql`status = ${t.to}`,
    sql`updated_at = now()`,
    sql`lease_expires_at = null`,
    sql`claim_token = null`,
  ];
  if (t.fields && 'businessId' in t.fields) sets.push(sql`business_id = ${t.fields.businessId}`);
  if (t.fields && 'errorCode' in t.fields) sets.push(sql`error_code = ${t.fields.errorCode}`);
  if (t.fields && 'errorMessage' in t.fields) sets.push(sql`error_message = ${t.fields.errorMessage}`);
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
  const result = await db.execute<{ completed_now: boolean }>(sql`
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
    returning (status = 'completed' and finished_at = now()) as completed_now
  `);
  const row = result.rows[0];
  return { moved: row !== undefined, jobCompleted: row?.completed_now === true };
}
