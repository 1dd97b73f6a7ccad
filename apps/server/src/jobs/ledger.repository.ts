/** The credit ledger: every provider call, per job it served, and the job-level views of it. */
import { sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import { type Db, executePrepared } from '../db/database';

export type ProviderCallRecord = {
  provider: string;
  endpoint: 'match' | 'bulk_enrich';
  status: number | null;
  durationMs: number;
  correlationId: string | null;
  perJob: ReadonlyArray<{ orgId: string; jobId: string; items: number; credits: number }>;
};

export const CREDIT_LIMIT_REACHED = 'CREDIT_LIMIT_REACHED';

type PendingCall = {
  call: ProviderCallRecord;
  resolve: (paused: string[]) => void;
  reject: (e: unknown) => void;
};

// Bounds one statement's size; a worker rarely has more calls than this in flight.
const MAX_CALLS_PER_STATEMENT = 100;

/** Per database handle: calls waiting for the statement in flight to finish. */
const writers = new WeakMap<Db, { pending: PendingCall[]; writing: boolean }>();

/**
 * Records one call; pauses every job it pushed to its max_credits. Returns the jobs it paused.
 *
 * A worker records a call after every provider batch, and each statement costs PostgreSQL a
 * commit (a WAL flush) whatever its size: calls that end while a write is in flight wait for it
 * and then go together in one statement (group commit). Nothing waits for a timer, so a lone call
 * is written at once. Inside a transaction the call is written in it, alone.
 */
export function recordProviderCall(db: Db, call: ProviderCallRecord): Promise<string[]> {
  if (call.perJob.length === 0) return Promise.resolve([]);
  if (db instanceof PgTransaction) return writeCalls(db, [call]).then((paused) => paused[0]!);
  let writer = writers.get(db);
  if (!writer) {
    writer = { pending: [], writing: false };
    writers.set(db, writer);
  }
  const w = writer;
  return new Promise<string[]>((resolve, reject) => {
    w.pending.push({ call, resolve, reject });
    if (!w.writing) void drain(db, w);
  });
}

async function drain(db: Db, w: { pending: PendingCall[]; writing: boolean }): Promise<void> {
  w.writing = true;
  while (w.pending.length > 0) {
    const batch = w.pending.splice(0, MAX_CALLS_PER_STATEMENT);
    try {
      const paused = await writeCalls(
        db,
        batch.map((p) => p.call),
      );
      for (const [i, p] of batch.entries()) p.resolve(paused[i]!);
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
  w.writing = false;
}

/**
 * Writes the calls' rows and pauses the jobs they pushed to their max_credits, in one statement.
 * The pause check cannot see the rows its own statement inserts, so it adds the credits of
 * this statement's rows to the sum of the earlier ones. Returns, per call, the jobs it paused: a
 * job is reported once, by the first of the calls that charged it.
 */
async function writeCalls(db: Db, calls: readonly ProviderCallRecord[]): Promise<string[][]> {
  const rows = JSON.stringify(
    calls.flatMap((call) =>
      call.perJob.map((j) => ({
        org_id: j.orgId,
        job_id: j.jobId,
        provider: call.provider,
        endpoint: call.endpoint,
        items: j.items,
        credits: j.credits,
        status: call.status,
        duration_ms: Math.round(call.durationMs),
        correlation_id: call.correlationId,
      })),
    ),
  );
  const result = await executePrepared<{ id: string }>(
    db,
    'record_provider_calls',
    sql`
    with inserted as (
      insert into provider_calls (org_id, job_id, provider, endpoint, items, credits, status, duration_ms, correlation_id)
      select r.org_id, r.job_id, r.provider, r.endpoint, r.items, r.credits, r.status, r.duration_ms, r.correlation_id
      from jsonb_to_recordset(${rows}::jsonb) as r(
        org_id text, job_id uuid, provider text, endpoint text, items int, credits int, status int,
        duration_ms int, correlation_id text)
      returning job_id, credits
    ), charged as (
      select job_id, sum(credits)::int as credits from inserted group by job_id having sum(credits) > 0
    )
    update jobs j
    set status = 'paused', error_code = ${CREDIT_LIMIT_REACHED},
        error_message = 'The job reached its credit limit (max_credits). Raise the limit or resume to continue.'
    from charged c
    where j.id = c.job_id
      and j.max_credits is not null and j.status in ('queued', 'running')
      and c.credits + (select coalesce(sum(credits), 0) from provider_calls pc where pc.job_id = j.id) >= j.max_credits
    returning j.id
  `,
  );
  const paused = new Set(result.rows.map((r) => r.id));
  return calls.map((call) =>
    call.perJob.filter((j) => j.credits > 0 && paused.delete(j.jobId)).map((j) => j.jobId),
  );
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
