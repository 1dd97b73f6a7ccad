/** The credit ledger: every provider call, per job it served, and the job-level views of it. */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { providerCalls } from '../db/schema';

export type ProviderCallRecord = {
  provider: string;
  endpoint: 'match' | 'bulk_enrich';
  status: number | null;
  durationMs: number;
  correlationId: string | null;
  perJob: ReadonlyArray<{ orgId: string; jobId: string; items: number; credits: number }>;
};

export const CREDIT_LIMIT_REACHED = 'CREDIT_LIMIT_REACHED';

/** Records one call; pauses every job it pushed to its max_credits. Returns the jobs it paused. */
export async function recordProviderCall(db: Db, call: ProviderCallRecord): Promise<string[]> {
  if (call.perJob.length === 0) return [];
  await db.insert(providerCalls).values(
    call.perJob.map((j) => ({
      orgId: j.orgId,
      jobId: j.jobId,
      provider: call.provider,
      endpoint: call.endpoint,
      items: j.items,
      credits: j.credits,
      status: call.status,
      durationMs: Math.round(call.durationMs),
      correlationId: call.correlationId,
    })),
  );
  const charged = call.perJob.filter((j) => j.credits > 0).map((j) => j.jobId);
  if (charged.length === 0) return [];
  const paused = await db.execute<{ id: string }>(sql`
    update jobs j
    set status = 'paused', error_code = ${CREDIT_LIMIT_REACHED},
        error_message = 'The job reached its credit limit (max_credits). Raise the limit or resume to continue.'
    where j.id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(charged)}::jsonb))
      and j.max_credits is not null and j.status in ('queued', 'running')
      and (select coalesce(sum(credits), 0) from provider_calls pc where pc.job_id = j.id) >= j.max_credits
    returning j.id
  `);
  return paused.rows.map((r) => r.id);
}

export type JobUsage = { providerCalls: number; recordsBilled: number; credits: number };

export const NO_USAGE: JobUsage = { providerCalls: 0, recordsBilled: 0, credits: 0 };

/** Jobs' provider usage so far: sums over their calls (about one row per 50 companies). */
export async function jobUsages(db: Db, jobIds: readonly string[]): Promise<Map<string, JobUsage>> {
  if (jobIds.length === 0) return new Map();
  const r = await db.execute<{ job_id: string; calls: number; records: number; credits: number }>(sql`
    select job_id, count(*)::int as calls, coalesce(sum(items), 0)::int as records,
           coalesce(sum(credits), 0)::int as credits
    from provider_calls
    where job_id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(jobIds)}::jsonb))
    group by job_id
  `);
  return new Map(
    r.rows.map((row) => [
      row.job_id,
      { providerCalls: row.calls, recordsBilled: row.records, credits: row.credits },
    ]),
  );
}
