/**
 * The credit ledger's writes: calls that end together share one statement, and each still gets
 * its own answer (the jobs it paused); credit reservations never grant more than a job's
 * max_credits, however many are asked for at once; against a real PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import {
  CREDIT_LIMIT_REACHED,
  jobCredits,
  jobUsages,
  openProviderCall,
  recordProviderCall,
  releaseCredits,
  renewCredits,
  reserveCredits,
  setJobMaxCredits,
} from '../src/enrichment/ledger.repository';
import { findJob, insertJob } from '../src/jobs/jobs.repository';
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
      providers: ['sandbox'],
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
    expect(usage).toEqual({
      providerCalls: 30,
      recordsBilled: 1500,
      credits: (29 * 30) / 2,
      providers: [{ provider: 'sandbox', calls: 30, records: 1500, credits: (29 * 30) / 2 }],
    });
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

  it('counts as records billed only the items of calls the provider answered', async () => {
    const job = await newJob(null);
    await recordProviderCall(database.db, call(job.id, 45, 'ok'));
    await recordProviderCall(database.db, { ...call(job.id, 0, 'down'), status: 503 });
    await recordProviderCall(database.db, { ...call(job.id, 0, 'key'), status: 401 });
    await recordProviderCall(database.db, { ...call(job.id, 0, 'timeout'), status: null });
    // A second provider's calls of the same job count apart.
    await recordProviderCall(database.db, { ...call(job.id, 3, 'pdl'), provider: 'pdl' });
    expect((await jobUsages(database.db, [job.id])).get(job.id)).toEqual({
      providerCalls: 5,
      recordsBilled: 100,
      credits: 48,
      providers: expect.arrayContaining([
        { provider: 'sandbox', calls: 4, records: 50, credits: 45 },
        { provider: 'pdl', calls: 1, records: 50, credits: 3 },
      ]),
    });
  });

  const reserve = (jobId: string, credits: number, ttlMs = 60_000) =>
    reserveCredits(database.db, [{ orgId: ORG, jobId, credits }], { ttlMs, newId: randomUUID }).then(
      (grants) => grants[0]!,
    );

  it('never grants more than max_credits, however many reservations race', async () => {
    const job = await newJob(100);
    await recordProviderCall(database.db, call(job.id, 30, 'spent'));
    const grants = await Promise.all(Array.from({ length: 20 }, () => reserve(job.id, 50)));
    expect(grants.reduce((sum, g) => sum + g.granted, 0)).toBe(70);
    expect(grants.filter((g) => g.granted > 0).every((g) => g.reservationId !== null)).toBe(true);
    // The last ones saw what the others held: those may come back, so their items wait, not pause.
    expect(grants.filter((g) => g.granted === 0).every((g) => g.heldByOthers === 70)).toBe(true);
    expect(await jobCredits(database.db, job.id)).toEqual({ spent: 30, held: 70 });
  });

  it('settles a reservation in the ledger row of its call, which frees what it did not bill', async () => {
    const job = await newJob(100);
    const a = await reserve(job.id, 50);
    const b = await reserve(job.id, 50);
    expect((await reserve(job.id, 1)).granted).toBe(0);
    await recordProviderCall(database.db, { ...call(job.id, 20, 'a'), reservationIds: [a.reservationId!] });
    expect(await jobCredits(database.db, job.id)).toEqual({ spent: 20, held: 50 });
    const c = await reserve(job.id, 50);
    expect(c.granted).toBe(30);
    // A call that never reached the provider gives its credits back at once.
    await releaseCredits(database.db, [b.reservationId!, c.reservationId!]);
    expect(await jobCredits(database.db, job.id)).toEqual({ spent: 20, held: 0 });
    expect((await reserve(job.id, 500)).granted).toBe(80);
  });

  it('lets the reservations of a worker that died lapse, and deletes them on the next reservation', async () => {
    const job = await newJob(10);
    const dead = await reserve(job.id, 10, 100);
    const alive = await newJob(10);
    const renewed = await reserve(alive.id, 10, 100);
    await renewCredits(database.db, [renewed.reservationId!], 60_000);
    await expect.poll(async () => (await jobCredits(database.db, job.id)).held, { timeout: 5_000 }).toBe(0);
    expect((await reserve(alive.id, 1)).granted).toBe(0);
    const again = await reserve(job.id, 10);
    expect(again.granted).toBe(10);
    const rows = await database.db.execute<{ id: string }>(
      sql`select id from credit_reservations where job_id = ${job.id}`,
    );
    expect(rows.rows.map((r) => r.id)).toEqual([again.reservationId]);
    expect(dead.reservationId).not.toBe(again.reservationId);
  });

  it("does not open a call whose reservation lapsed (its credits may be another call's), and opens it once", async () => {
    const job = await newJob(10);
    const open = (reservationId: string, callId: string) =>
      openProviderCall(database.db, {
        provider: 'sandbox',
        endpoint: 'bulk_enrich',
        callId,
        reservationIds: [reservationId],
        perJob: [{ orgId: ORG, jobId: job.id, items: 10, credits: 10 }],
      });
    const lapsing = await reserve(job.id, 10, 100);
    await expect.poll(async () => (await jobCredits(database.db, job.id)).held, { timeout: 5_000 }).toBe(0);
    expect(await open(lapsing.reservationId!, randomUUID())).toBe(false);
    expect(await jobCredits(database.db, job.id)).toEqual({ spent: 0, held: 0 });

    const live = await reserve(job.id, 10);
    const callId = randomUUID();
    expect(await open(live.reservationId!, callId)).toBe(true);
    // Repeated after a lost answer: already open, nothing written twice.
    expect(await open(live.reservationId!, callId)).toBe(true);
    expect(await jobCredits(database.db, job.id)).toEqual({ spent: 10, held: 0 });
    expect((await reserve(job.id, 1)).granted).toBe(0);
  });

  it("grants everything to a job without a limit, and nothing to another organization's job", async () => {
    const job = await newJob(null);
    expect((await reserve(job.id, 50)).granted).toBe(50);
    const foreign = await reserveCredits(
      database.db,
      [{ orgId: 'someone-else', jobId: job.id, credits: 50 }],
      { ttlMs: 60_000, newId: randomUUID },
    );
    expect(foreign).toEqual([{ jobId: job.id, reservationId: null, granted: 0, heldByOthers: 0 }]);
  });

  it('changes max_credits only above what is spent and held, and not on a finished job', async () => {
    const job = await newJob(100);
    await recordProviderCall(database.db, call(job.id, 40, 'spent'));
    await reserve(job.id, 20);
    expect(await setJobMaxCredits(database.db, ORG, job.id, 40)).toEqual({
      updated: false,
      spent: 40,
      held: 20,
    });
    expect(await setJobMaxCredits(database.db, ORG, job.id, 55)).toEqual({
      updated: false,
      spent: 40,
      held: 20,
    });
    expect(await setJobMaxCredits(database.db, ORG, job.id, 60)).toEqual({
      updated: true,
      spent: 40,
      held: 20,
    });
    expect((await findJob(database.db, ORG, job.id))?.maxCredits).toBe(60);
    expect(await setJobMaxCredits(database.db, 'someone-else', job.id, 500)).toBeNull();
    expect((await setJobMaxCredits(database.db, ORG, job.id, null))?.updated).toBe(true);
    expect((await findJob(database.db, ORG, job.id))?.maxCredits).toBeNull();
  });

  it('writes inside a transaction when given one', async () => {
    const job = await newJob(10);
    const paused = await database.db.transaction((tx) => recordProviderCall(tx, call(job.id, 10, 'tx')));
    expect(paused).toEqual([job.id]);
    expect((await jobUsages(database.db, [job.id])).get(job.id)?.credits).toBe(10);
  });
});
