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
import { type Db, executePrepared, inTransaction, type PooledConnection } from '../db/database';
import type { CompanyRow } from '../db/schema';
import type { CompanySignals, Firmographics, ProviderName } from '../providers/provider';
import { type CacheScope, isFreshCacheEntry, isVisibleCacheEntry } from './enrichment-cache.sql';
import { type FieldProvenances, stateFromStored, type WaterfallState } from './waterfall';

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
  /** Claims of the current provider step, this one included. */
  attempts: number;
  /** The job's waterfall, and the step of it this company is at. */
  providers: ProviderName[];
  step: number;
  /** Matched at this step by an earlier attempt: a retry enriches it instead of matching again. */
  stepBusinessId: string | null;
  /** What earlier steps gathered (a company resumed mid-waterfall). */
  state: WaterfallState;
  /** Fresh enrichment-cache entries of the providers from this step on, unless the job forces a refresh. */
  cached: Map<ProviderName, CachedResult>;
};

export type ClaimOptions = {
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

type StoredFields = {
  name: string | null;
  industry: string | null;
  company_size: string | null;
  revenue_range: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  website: string | null;
  linkedin_url: string | null;
  description: string | null;
  signals: CompanySignals | null;
};

type ClaimedRow = StoredFields & {
  id: string;
  job_id: string;
  org_id: string;
  domain: string;
  attempts: number;
  provider_step: number;
  step_business_id: string | null;
  business_id: string | null;
  match_confidence: number | null;
  provenance: FieldProvenances | null;
  source: 'provider' | 'cache' | null;
  fetched_at: string | Date | null;
  failed_step_error: { code: string; message: string } | null;
  providers: ProviderName[];
  cache_entries: Record<
    string,
    { business_id: string | null; firmographics: Firmographics | null; fetched_at: string }
  > | null;
};

function toClaimedCompany(r: ClaimedRow): ClaimedCompany {
  return {
    id: r.id,
    jobId: r.job_id,
    orgId: r.org_id,
    domain: r.domain,
    attempts: r.attempts,
    providers: r.providers,
    step: r.provider_step,
    stepBusinessId: r.step_business_id,
    state: stateFromStored({
      firmographics: {
        name: r.name,
        industry: r.industry,
        companySize: r.company_size,
        revenueRange: r.revenue_range ?? 'Unknown',
        country: r.country,
        region: r.region,
        city: r.city,
        website: r.website,
        linkedinUrl: r.linkedin_url,
        description: r.description,
        signals: r.signals,
      },
      provenance: r.provenance,
      businessId: r.business_id,
      matchConfidence: r.match_confidence,
      source: r.source,
      fetchedAt: r.fetched_at === null ? null : new Date(r.fetched_at),
      failedStepError: r.failed_step_error,
    }),
    cached: new Map(
      Object.entries(r.cache_entries ?? {}).map(([provider, e]) => [
        provider as ProviderName,
        { businessId: e.business_id, firmographics: e.firmographics, fetchedAt: new Date(e.fetched_at) },
      ]),
    ),
  };
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
      const result = await executePrepared<ClaimedRow>(
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
        returning c.id, c.job_id, c.org_id, c.domain, c.attempts, c.provider_step, c.step_business_id,
                  c.business_id, c.match_confidence, c.provenance, c.source, c.fetched_at, c.failed_step_error,
                  c.name, c.industry, c.company_size, c.revenue_range, c.country, c.region, c.city, c.website,
                  c.linkedin_url, c.description, c.signals, t.old_status
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
      select cl.*, j.providers, ec.entries as cache_entries
      from claimed cl
      join jobs j on j.id = cl.job_id
      left join lateral (
        -- The freshest visible entry of each provider still to be asked.
        select jsonb_object_agg(e.provider, jsonb_build_object(
                 'business_id', e.business_id, 'firmographics', e.firmographics, 'fetched_at', e.fetched_at)) as entries
        from (
          select distinct on (ec.provider) ec.provider, ec.business_id, ec.firmographics, ec.fetched_at
          from enrichment_cache ec
          where ec.provider = any(j.providers[cl.provider_step + 1:]) and ec.domain = cl.domain
            and not j.force_refresh
            and ${isVisibleCacheEntry(opts.cacheScope ?? 'org', sql`cl.org_id`)}
            and ${isFreshCacheEntry({ ttlMs: opts.cacheTtlMs, noMatchTtlMs: opts.noMatchCacheTtlMs })}
          order by ec.provider, ec.fetched_at desc
        ) e
      ) ec on true
    `,
      );
      return result.rows.map(toClaimedCompany);
    },
  );
}

/** A provider's own answer for a domain, kept in the enrichment cache under its name. */
export type CacheEntry = {
  provider: ProviderName;
  businessId: string | null;
  firmographics: Firmographics | null;
  fetchedAt: Date;
};

/** Where a company stands after a provider step: what it gathered, and the answer to cache. */
type CompanyProgress = {
  orgId: string;
  jobId: string;
  companyId: string;
  domain: string;
  /** What the waterfall gathered so far (waterfall.ts). */
  state: WaterfallState;
  /** Store this provider answer in the enrichment cache (null: it came from the cache, or failed). */
  cache: CacheEntry | null;
};

export type CompanyOutcome = CompanyProgress & {
  to: 'enriched' | 'not_found' | 'failed';
  /** Shown with a company no provider found: why (no match, or a provider's failure). */
  error: { code: string; message: string } | null;
};

/** A company handed on to the next provider of its waterfall. */
export type CompanyCheckpoint = CompanyProgress & { nextStep: number };

export type FinishResult = { completedJobs: { orgId: string; jobId: string }[] };

function progressInput(p: CompanyProgress, extra: Record<string, unknown>) {
  const s = p.state;
  return {
    id: p.companyId,
    org_id: p.orgId,
    domain: p.domain,
    business_id: s.businessId,
    // Sent once: the statement takes the company's columns from it (see `f` below).
    firmographics: s.found ? s.firmographics : null,
    provenance: s.provenance,
    match_confidence: s.matchConfidence,
    source: s.allFromCache ? 'cache' : 'provider',
    fetched_at: s.fetchedAt?.toISOString() ?? null,
    failed_step_error: s.error,
    cache: p.cache && {
      provider: p.cache.provider,
      business_id: p.cache.businessId,
      firmographics: p.cache.firmographics,
      fetched_at: p.cache.fetchedAt.toISOString(),
    },
    ...extra,
  };
}

/** The input rows of an outcome or checkpoint statement. */
function progressRows(json: string): SQL {
  return sql`select * from jsonb_to_recordset(${json}::jsonb) as i(
    id uuid, org_id text, domain text, to_status text, source text, business_id text, firmographics jsonb,
    provenance jsonb, match_confidence real, failed_step_error jsonb, next_step int,
    error_code text, error_message text, fetched_at timestamptz, cache jsonb)`;
}

/** The company's result columns from the input row `i` and its firmographics `f`. */
const RESULT_COLUMNS = sql`business_id = i.business_id, name = f.name,
  industry = f.industry, company_size = f."companySize",
  revenue_range = case when i.firmographics is not null then coalesce(f."revenueRange", 'Unknown') end,
  country = f.country, region = f.region, city = f.city, website = f.website,
  linkedin_url = f."linkedinUrl", description = f.description,
  signals = nullif(i.firmographics -> 'signals', 'null'::jsonb),
  provenance = i.provenance, match_confidence = i.match_confidence, source = i.source,
  fetched_at = i.fetched_at`;

const FIRMOGRAPHICS_RECORD = sql`left join lateral jsonb_to_record(i.firmographics) as f(
  name text, industry text, "companySize" text, "revenueRange" text, country text, region text,
  city text, website text, "linkedinUrl" text, description text) on true`;

/** Each provider answer into the enrichment cache, as the paying organization's entry. */
const CACHE_WRITE = sql`insert into enrichment_cache (provider, domain, org_id, business_id, firmographics, fetched_at)
  select distinct on (i.cache ->> 'provider', i.org_id, i.domain)
    i.cache ->> 'provider', i.domain, i.org_id, i.cache ->> 'business_id', nullif(i.cache -> 'firmographics', 'null'::jsonb),
    (i.cache ->> 'fetched_at')::timestamptz
  from input i where i.cache is not null and i.cache <> 'null'::jsonb
  order by i.cache ->> 'provider', i.org_id, i.domain
  on conflict (provider, domain, org_id) do update
    set business_id = excluded.business_id, firmographics = excluded.firmographics,
        fetched_at = excluded.fetched_at`;

/**
 * processing → enriched | not_found | failed for a batch, with the job counters, the cache hits,
 * the enrichment cache itself, and the completion of every job this batch empties.
 */
export async function finishCompanies(db: Db, outcomes: readonly CompanyOutcome[]): Promise<FinishResult> {
  if (outcomes.length === 0) return { completedJobs: [] };
  const input = JSON.stringify(
    outcomes.map((o) =>
      progressInput(o, {
        to_status: o.to,
        error_code: o.error?.code ?? null,
        error_message: o.error?.message ?? null,
      }),
    ),
  );
  return withJobsLocked(
    db,
    outcomes.map((o) => o.jobId),
    async (tx) => {
      const result = await executePrepared<{ id: string; org_id: string; completed_now: boolean }>(
        tx,
        'finish_companies',
        sql`
      with input as (${progressRows(input)}), moved as (
        update companies c
        set status = i.to_status, ${RESULT_COLUMNS},
            error_code = i.error_code, error_message = i.error_message,
            enriched_at = case when i.to_status = 'enriched' then now() else null end,
            failed_step_error = null, step_business_id = null,
            lease_expires_at = null, claim_token = null, updated_at = now()
        -- The input drives the join, one primary-key lookup per row. An added 'c.id = any(...)'
        -- made the planner scan the ids first and rescan the whole input for each of them.
        from input i
        ${FIRMOGRAPHICS_RECORD}
        where c.id = i.id and c.org_id = i.org_id and c.status = 'processing'
        returning c.job_id, c.status, c.source
      ), cached as (${CACHE_WRITE}
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
 * Saves what a company gathered from one provider and hands it on to the next: its claim is let
 * go (no token, a lease already over), so the next step's task, from any worker, claims it again
 * with what it gathered and pays for nothing twice; a task lost on the way is found again as any
 * abandoned claim is (the dispatcher's sweep). It stays `processing`, so no counter moves.
 * Written only while this worker still holds the claim (`token`); returns the ids written.
 */
export async function checkpointCompanies(
  db: Db,
  opts: { token: string },
  checkpoints: readonly CompanyCheckpoint[],
): Promise<Set<string>> {
  if (checkpoints.length === 0) return new Set();
  const input = JSON.stringify(checkpoints.map((c) => progressInput(c, { next_step: c.nextStep })));
  // Only the company rows change (no counter moves): no job row to lock.
  const result = await executePrepared<{ id: string }>(
    db,
    'checkpoint_companies',
    sql`
    with input as (${progressRows(input)}), moved as (
      update companies c
      set ${RESULT_COLUMNS}, failed_step_error = i.failed_step_error,
          -- The next step's claim counts its first attempt.
          provider_step = i.next_step, step_business_id = null, attempts = 0,
          error_code = null, error_message = null, updated_at = now(),
          claim_token = null, lease_expires_at = now()
      from input i
      ${FIRMOGRAPHICS_RECORD}
      where c.id = i.id and c.org_id = i.org_id and c.status = 'processing'
        and c.claim_token = ${opts.token}::uuid
      returning c.id
    ), cached as (${CACHE_WRITE})
    select id from moved
  `,
  );
  return new Set(result.rows.map((r) => r.id));
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

export type CompanyFields = Partial<Pick<CompanyRow, 'errorCode' | 'errorMessage' | 'stepBusinessId'>>;

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
  if (t.fields && 'stepBusinessId' in t.fields) sets.push(sql`step_business_id = ${t.fields.stepBusinessId}`);
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
