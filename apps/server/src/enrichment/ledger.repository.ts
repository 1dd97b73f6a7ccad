/**
 * The credit ledger: every provider call that reached the provider, per job it served, the credit
 * reservations held for calls about to be made, and the job-level views of both.
 *
 * A call is written twice: opened right before it leaves (rows with no status, holding the most
 * it may bill), then closed with what it did bill (recordProviderCall). A worker killed with the
 * call in flight leaves it open: the call stays counted, as the provider counted it, and its
 * credits stay spent, since the provider may have billed them.
 */
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
  /** Credit reservations this call settles: deleted in the statement that writes its rows. */
  reservationIds?: readonly string[];
  /** Set once per call: the same call written twice (a retry after a lost connection) is kept once. */
  callId?: string;
};

export type OpenProviderCall = {
  provider: string;
  endpoint: 'match' | 'bulk_enrich';
  callId: string;
  /** `credits`: the most this job's part of the call may bill, held until the call is closed. */
  perJob: ReadonlyArray<{ orgId: string; jobId: string; items: number; credits: number }>;
  /** Reservations the open rows take over (deleted in the same statement). */
  reservationIds?: readonly string[];
};

/**
 * Writes a call's rows before it leaves, taking over its credit reservations; writing it again (a
 * retry) changes nothing. False, and nothing written, when one of its reservations lapsed
 * meanwhile (its worker frozen, or the database away, for longer than a reservation lives): those
 * credits may since have been granted to another call, so this one must not leave.
 */
export async function openProviderCall(db: Db, call: OpenProviderCall): Promise<boolean> {
  if (call.perJob.length === 0) return true;
  const rows = JSON.stringify(
    call.perJob.map((j) => ({
      org_id: j.orgId,
      job_id: j.jobId,
      items: j.items,
      credits: j.credits,
    })),
  );
  const reservations = call.reservationIds ?? [];
  const result = await executePrepared<{ ok: boolean }>(
    db,
    'open_provider_call',
    sql`
    with taken_over as (
      -- The open rows now hold these credits; the job's total held and spent does not move.
      delete from credit_reservations
      where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(reservations)}::jsonb))
        and expires_at > now()
      returning id
    ), verdict as (
      -- Every reservation still alive, or this call already opened (a repeated write).
      select (select count(*) from taken_over) = ${reservations.length}
          or exists (select 1 from provider_calls where call_id = ${call.callId}::uuid) as ok
    ), opened as (
      insert into provider_calls (org_id, job_id, provider, endpoint, items, credits, status, duration_ms, call_id)
      select r.org_id, r.job_id, ${call.provider}, ${call.endpoint}, r.items, r.credits, null, 0, ${call.callId}::uuid
      from jsonb_to_recordset(${rows}::jsonb) as r(org_id text, job_id uuid, items int, credits int)
      where (select ok from verdict)
      on conflict (call_id, job_id) do nothing
    )
    select ok from verdict
  `,
  );
  return result.rows[0]?.ok ?? false;
}

/** Removes an opened call that never reached the provider (refused connection, cut off). */
export async function forgetProviderCall(db: Db, callId: string): Promise<void> {
  await db.execute(sql`delete from provider_calls where call_id = ${callId}::uuid and status is null`);
}

export const CREDIT_LIMIT_REACHED = 'CREDIT_LIMIT_REACHED';

/** What a job paused at its max_credits says, and how to go on. */
export const CREDIT_LIMIT_MESSAGE =
  'The job reached its credit limit (max_credits). To continue, raise or remove the limit ' +
  '("Raise the limit and resume" on the job page, or PATCH /api/v1/jobs/{id} with {"max_credits": …}), then resume it.';

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
  if (call.perJob.length === 0) {
    const ids = call.reservationIds ?? [];
    return ids.length === 0 ? Promise.resolve([]) : releaseCredits(db, ids).then(() => []);
  }
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
        call_id: call.callId ?? null,
      })),
    ),
  );
  const callIds = JSON.stringify(calls.flatMap((c) => (c.callId ? [c.callId] : [])));
  const settled = JSON.stringify(calls.flatMap((call) => call.reservationIds ?? []));
  const result = await executePrepared<{ id: string }>(
    db,
    'record_provider_calls',
    sql`
    with settled as (
      -- The call's credits are now in its rows: what was held for it is no longer held.
      delete from credit_reservations
      where id in (select value::uuid from jsonb_array_elements_text(${settled}::jsonb))
    ), inserted as (
      insert into provider_calls (org_id, job_id, provider, endpoint, items, credits, status, duration_ms, correlation_id, call_id)
      select r.org_id, r.job_id, r.provider, r.endpoint, r.items, r.credits, r.status, r.duration_ms, r.correlation_id, r.call_id
      from jsonb_to_recordset(${rows}::jsonb) as r(
        org_id text, job_id uuid, provider text, endpoint text, items int, credits int, status int,
        duration_ms int, correlation_id text, call_id uuid)
      -- Closes the call's open rows (or repeats a close whose answer was lost).
      on conflict (call_id, job_id) do update
        set items = excluded.items, credits = excluded.credits, status = excluded.status,
            duration_ms = excluded.duration_ms, correlation_id = excluded.correlation_id
      returning job_id, credits
    ), charged as (
      select job_id, sum(credits)::int as credits from inserted group by job_id having sum(credits) > 0
    )
    update jobs j
    set status = 'paused', error_code = ${CREDIT_LIMIT_REACHED},
        error_message = ${CREDIT_LIMIT_MESSAGE}
    from charged c
    where j.id = c.job_id
      and j.max_credits is not null and j.status in ('queued', 'running')
      -- The statement sees the table as it was: these calls' open rows are replaced by c.credits.
      and c.credits + (
        select coalesce(sum(credits), 0) from provider_calls pc
        where pc.job_id = j.id
          and (pc.call_id is null or pc.call_id not in (select value::uuid from jsonb_array_elements_text(${callIds}::jsonb)))
      ) >= j.max_credits
    returning j.id
  `,
  );
  const paused = new Set(result.rows.map((r) => r.id));
  return calls.map((call) =>
    call.perJob.filter((j) => j.credits > 0 && paused.delete(j.jobId)).map((j) => j.jobId),
  );
}

/** One provider's share of a job's usage. */
export type ProviderUsage = { provider: string; calls: number; records: number; credits: number };

export type JobUsage = {
  providerCalls: number;
  recordsBilled: number;
  credits: number;
  /** The same per provider the job has called, in no particular order. */
  providers: ProviderUsage[];
};

export const NO_USAGE: JobUsage = { providerCalls: 0, recordsBilled: 0, credits: 0, providers: [] };

/**
 * Jobs' provider usage so far: sums over their calls (about one row per 50 companies). Only calls
 * that reached the provider have rows; of those, only the items of answered calls (2xx) count as
 * records billed: a 401, 429 or 5xx billed nothing.
 */
export async function jobUsages(db: Db, jobIds: readonly string[]): Promise<Map<string, JobUsage>> {
  if (jobIds.length === 0) return new Map();
  const r = await db.execute<ProviderUsage & { job_id: string }>(sql`
    select job_id, provider, count(*)::int as calls,
           coalesce(sum(items) filter (where status between 200 and 299), 0)::int as records,
           coalesce(sum(credits), 0)::int as credits
    from provider_calls
    where job_id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(jobIds)}::jsonb))
    group by job_id, provider
  `);
  const usages = new Map<string, JobUsage>();
  for (const { job_id, ...provider } of r.rows) {
    const usage = usages.get(job_id) ?? { providerCalls: 0, recordsBilled: 0, credits: 0, providers: [] };
    usage.providerCalls += provider.calls;
    usage.recordsBilled += provider.records;
    usage.credits += provider.credits;
    usage.providers.push(provider);
    usages.set(job_id, usage);
  }
  return usages;
}

/** A two-int advisory lock space, apart from the one-bigint locks (migrations, dispatch). */
const CREDIT_LOCK_CLASS = 7_291_005;

export type CreditRequest = { orgId: string; jobId: string; credits: number };

export type CreditGrant = {
  jobId: string;
  /** Null when nothing was granted (no row is held). */
  reservationId: string | null;
  granted: number;
  /** Credits other calls of this job hold now: they may come back when those calls settle. */
  heldByOthers: number;
};

/**
 * Holds up to `credits` for each job's part of one call: all of them for a job without
 * max_credits, else what its limit leaves after the credits spent and those held by calls in
 * flight. Jobs' reservations are serialized by an advisory lock per job, taken in job order (so
 * two workers never both see the same credits left), in a transaction of its own: a statement
 * reads the table as it was when it started, so the lock is taken by one statement and the budget
 * read by the next. The lock is not a row lock on `jobs`, which the outcome writes update.
 * Lapsed reservations (their worker died) of these jobs are deleted on the way.
 */
export async function reserveCredits(
  db: Db,
  requests: readonly CreditRequest[],
  opts: { ttlMs: number; newId: () => string },
): Promise<CreditGrant[]> {
  if (requests.length === 0) return [];
  const rows = requests.map((r) => ({
    id: opts.newId(),
    org_id: r.orgId,
    job_id: r.jobId,
    credits: r.credits,
  }));
  const jobIds = [...new Set(requests.map((r) => r.jobId))].sort();
  return db.transaction(async (tx) => {
    await tx.execute(sql`
      select pg_advisory_xact_lock(${CREDIT_LOCK_CLASS}, hashtext(j::uuid::text))
      from unnest(${`{${jobIds.join(',')}}`}::text[]) as j
    `);
    const r = await tx.execute<{ id: string; job_id: string; granted: number; held: number }>(sql`
      with req as (
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as r(id uuid, org_id text, job_id uuid, credits int)
      ), lapsed as (
        delete from credit_reservations cr using req
        where cr.job_id = req.job_id and cr.expires_at <= now()
      ), budget as (
        select req.id, req.org_id, req.job_id, req.credits, j.max_credits,
               -- Held: live reservations, and calls on their way (opened, not yet closed: no status,
               -- no duration), which hold the most they may bill and may bill less.
               ((select coalesce(sum(cr.credits), 0) from credit_reservations cr
                 where cr.job_id = req.job_id and cr.expires_at > now())
                + case when j.max_credits is null then 0
                       else (select coalesce(sum(pc.credits), 0) from provider_calls pc
                             where pc.job_id = req.job_id and pc.status is null and pc.duration_ms = 0)
                  end)::int as held,
               -- Only a limited job needs its spending summed (CASE does not evaluate the other branch).
               case when j.max_credits is null then 0
                    else (select coalesce(sum(pc.credits), 0) from provider_calls pc
                          where pc.job_id = req.job_id and not (pc.status is null and pc.duration_ms = 0))::int
               end as spent
        from req join jobs j on j.id = req.job_id and j.org_id = req.org_id
      ), granted as (
        select id, org_id, job_id, held,
               case when max_credits is null then credits
                    else greatest(0, least(credits, max_credits - spent - held)) end as granted
        from budget
      ), inserted as (
        insert into credit_reservations (id, org_id, job_id, credits, expires_at)
        select id, org_id, job_id, granted, now() + make_interval(secs => ${opts.ttlMs / 1000})
        from granted where granted > 0
      )
      select id, job_id, granted, held from granted
    `);
    const byId = new Map(r.rows.map((row) => [row.id, row]));
    return rows.map((req) => {
      const row = byId.get(req.id);
      // A job of another organization, or deleted: nothing to spend on it.
      if (!row) return { jobId: req.job_id, reservationId: null, granted: 0, heldByOthers: 0 };
      return {
        jobId: req.job_id,
        reservationId: row.granted > 0 ? req.id : null,
        granted: row.granted,
        heldByOthers: row.held,
      };
    });
  });
}

/** Keeps reservations alive while their calls wait and run; lapsed ones stay lapsed. */
export async function renewCredits(db: Db, ids: readonly string[], ttlMs: number): Promise<void> {
  if (ids.length === 0) return;
  await db.execute(sql`
    update credit_reservations set expires_at = now() + make_interval(secs => ${ttlMs / 1000})
    where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
      and expires_at > now()
  `);
}

/** Gives reserved credits back: their call never reached the provider. */
export async function releaseCredits(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.execute(sql`
    delete from credit_reservations
    where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
  `);
}

/** A job's credits spent (ledger) and held now (live reservations). */
export async function jobCredits(db: Db, jobId: string): Promise<{ spent: number; held: number }> {
  const r = await db.execute<{ spent: number; held: number }>(sql`
    select (select coalesce(sum(credits), 0) from provider_calls where job_id = ${jobId})::int as spent,
           (select coalesce(sum(credits), 0) from credit_reservations
            where job_id = ${jobId} and expires_at > now())::int as held
  `);
  return r.rows[0] ?? { spent: 0, held: 0 };
}

/**
 * Sets or removes a job's max_credits under the job's reservation lock, so no reservation is
 * granted against the old limit meanwhile. Refuses (returns the figures) a limit below the
 * credits spent and held. Null when the job is not this organization's or has finished.
 */
export async function setJobMaxCredits(
  db: Db,
  orgId: string,
  jobId: string,
  maxCredits: number | null,
): Promise<{ updated: boolean; spent: number; held: number } | null> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${CREDIT_LOCK_CLASS}, hashtext(${jobId}::uuid::text))`);
    const { spent, held } = await jobCredits(tx, jobId);
    if (maxCredits !== null && (maxCredits <= spent || maxCredits < spent + held)) {
      return { updated: false, spent, held };
    }
    const r = await tx.execute<{ id: string }>(sql`
      update jobs set max_credits = ${maxCredits}
      where id = ${jobId} and org_id = ${orgId} and status not in ('completed', 'cancelled', 'failed')
      returning id
    `);
    return r.rows.length > 0 ? { updated: true, spent, held } : null;
  });
}
