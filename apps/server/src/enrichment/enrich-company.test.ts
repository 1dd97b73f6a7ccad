/**
 * The task handler against a real PostgreSQL. The provider is scripted at its port (the edge of
 * the world), so each failure kind can be produced exactly when wanted.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectJobInvariants } from '../../test/invariants';
import { startTcpProxy } from '../../test/tcp-proxy';
import { insertCompanies, openMigratedTestDatabase } from '../../test/test-database';
import { connectDatabase, type DatabaseHandle, type Db } from '../db/database';
import { findJob, insertJob, resumeJob } from '../jobs/jobs.repository';
import {
  type EnrichmentProvider,
  FIRMOGRAPHIC_FIELDS,
  type Firmographics,
  ProviderError,
} from '../providers/provider';
import { RetryTaskLater } from '../queue/task-queue';
import { createClaimGuardedProvider } from './claim-guarded-provider';
import { claimCompanies } from './company-state.repository';
import { createDatabaseGate } from './database-gate';
import { createEnrichCompany } from './enrich-company';
import { createHeldClaims } from './held-claims';
import { createProviderBatcher } from './provider-batcher';
import { createRetryPolicy } from './retry-policy';

const ORG = 'acme';
const CLAIM = {
  token: randomUUID(),
  leaseMs: 60_000,
  cacheTtlMs: 86_400_000,
  noMatchCacheTtlMs: 3_600_000,
};

/** The handler as a worker wires it: held claims, the database gate, the guard before each call. */
function wireHandler(
  db: Db,
  ping: () => Promise<void>,
  provider: EnrichmentProvider,
  opts: { leaseMs?: number; renewIntervalMs?: number; retryPolicy: ReturnType<typeof createRetryPolicy> },
  onJobCompleted?: (orgId: string, jobId: string) => void,
) {
  const claim = { ...CLAIM, leaseMs: opts.leaseMs ?? CLAIM.leaseMs };
  const gate = createDatabaseGate({ ping, probeIntervalMs: 50 });
  const held = createHeldClaims({
    db,
    gate,
    token: claim.token,
    leaseMs: claim.leaseMs,
    renewIntervalMs: opts.renewIntervalMs ?? 10_000,
  });
  const handler = createEnrichCompany({
    db,
    batchers: new Map([
      [provider.name, createProviderBatcher(createClaimGuardedProvider(provider, held), { windowMs: 5 })],
    ]),
    retryPolicy: opts.retryPolicy,
    logger: pino({ level: 'silent' }),
    writeWindowMs: 5,
    claim,
    held,
    gate,
    // One provider: nothing is ever handed on to a next one.
    handOn: async (tasks) => {
      throw new Error(`handed on ${tasks.length} companies in a one-provider waterfall`);
    },
    onJobCompleted,
  });
  return { handler, gate, held };
}

/** A claim as another worker makes it (a token of its own). */
async function claimOne(db: DatabaseHandle['db'], jobId: string, companyId: string, token = randomUUID()) {
  const [claimed] = await claimCompanies(db, { ...CLAIM, token }, [{ orgId: ORG, jobId, companyId }]);
  return claimed ?? null;
}
const FIRMO: Firmographics = {
  name: 'Stripe',
  industry: 'Financial Services',
  companySize: '5001-10000',
  revenueRange: '1B-10B',
  country: 'united states',
  region: 'california',
  city: 'south san francisco',
  website: 'https://stripe.com',
  linkedinUrl: 'https://linkedin.com/company/stripe',
  description: 'Payments infrastructure',
};

/** A provider whose next answers the test decides. */
function scriptedProvider() {
  const state = {
    matchError: null as Error | null,
    enrichError: null as Error | null,
    enrichCalls: 0,
    enrichedIds: [] as string[],
    /** Runs inside each call, before it answers (a fault injected mid-call). */
    duringEnrich: null as (() => Promise<void>) | null,
    duringMatch: null as (() => Promise<void>) | null,
    unmatched: new Set<string>(),
    /** Domains whose business the provider fails on in bulk_enrich (a per-item error). */
    enrichItemErrors: new Set<string>(),
    itemErrors: new Set<string>(),
    matchCalls: 0,
    matchedDomains: [] as string[],
  };
  const provider: EnrichmentProvider = {
    name: 'sandbox',
    maxBatchSize: 50,
    matching: 'call',
    creditsPerRecord: 1,
    fills: FIRMOGRAPHIC_FIELDS,
    async matchBusinesses(domains) {
      state.matchCalls++;
      await state.duringMatch?.();
      if (state.matchError) throw state.matchError;
      state.matchedDomains.push(...domains);
      return domains.map((domain) =>
        state.itemErrors.has(domain)
          ? { domain, businessId: null, error: { type: 'invalid_domain', message: 'not a usable domain' } }
          : state.unmatched.has(domain)
            ? { domain, businessId: null }
            : { domain, businessId: state.enrichItemErrors.has(domain) ? 'b'.repeat(32) : 'a'.repeat(32) },
      );
    },
    async enrichFirmographics(ids) {
      state.enrichCalls++;
      await state.duringEnrich?.();
      if (state.enrichError) throw state.enrichError;
      state.enrichedIds.push(...ids);
      return new Map(
        ids.map((id) => [
          id,
          id === 'b'.repeat(32) ? { error: { type: 'lookup_error', message: 'lookup failed' } } : FIRMO,
        ]),
      );
    },
  };
  return { provider, state };
}

describe('enrich-company task', () => {
  let database: DatabaseHandle;
  let databaseUrl: string;
  let closeDb: () => Promise<void>;
  const policy = createRetryPolicy({ maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });

  beforeAll(async () => {
    ({ database, url: databaseUrl, close: closeDb } = await openMigratedTestDatabase(ORG));
  });
  afterAll(async () => {
    await closeDb?.();
  });

  async function newJob(domains: string[], opts: { forceRefresh?: boolean } = {}) {
    const job = await insertJob(database.db, {
      orgId: ORG,
      providers: ['sandbox'],
      filename: 'x.csv',
      total: domains.length,
      inputRows: domains.length,
      rejectedRows: 0,
      forceRefresh: opts.forceRefresh,
    });
    await insertCompanies(
      database.db,
      ORG,
      job.id,
      domains.map((domain, i) => ({ domain, input: domain, rowNumber: i + 1 })),
    );
    const rows = await database.db.execute<{ id: string; domain: string }>(
      sql`select id, domain from companies where job_id = ${job.id} order by row_number`,
    );
    return { jobId: job.id, companyIds: rows.rows.map((r) => r.id) };
  }

  async function company(id: string) {
    const r = await database.db.execute<{
      status: string;
      attempts: number;
      error_code: string | null;
      source: string | null;
      name: string | null;
      business_id: string | null;
      step_business_id: string | null;
    }>(
      sql`select status, attempts, error_code, source, name, business_id, step_business_id from companies where id = ${id}`,
    );
    return r.rows[0]!;
  }

  let scripted: ReturnType<typeof scriptedProvider>;
  let completed: string[];
  let handler: ReturnType<typeof createEnrichCompany>;
  beforeEach(() => {
    scripted = scriptedProvider();
    completed = [];
    ({ handler } = wireHandler(
      database.db,
      () => database.ping(),
      scripted.provider,
      { retryPolicy: policy },
      (_org, jobId) => completed.push(jobId),
    ));
  });

  it('enriches, completes the job once, and ignores a second delivery', async () => {
    const { jobId, companyIds } = await newJob(['stripe.com', 'nothing.com']);
    scripted.state.unmatched.add('nothing.com');
    await Promise.all(
      companyIds.map((companyId) => handler({ orgId: ORG, jobId, companyId }, { delivery: 1 })),
    );
    await handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery: 2 });

    expect(await company(companyIds[0]!)).toMatchObject({
      status: 'enriched',
      attempts: 1,
      error_code: null,
    });
    expect(await company(companyIds[1]!)).toMatchObject({ status: 'not_found', error_code: 'NO_MATCH' });
    const job = await findJob(database.db, ORG, jobId);
    expect(job).toMatchObject({
      status: 'completed',
      enrichedCount: 1,
      notFoundCount: 1,
      processingCount: 0,
    });
    expect(job?.finishedAt).toBeInstanceOf(Date);
    expect(completed).toEqual([jobId]);
    // Both companies went out in one batch.
    expect(scripted.state.matchCalls).toBe(1);
    await expectJobInvariants(database.db);
  });

  it('retries a transient error with backoff, then fails the company after its last attempt', async () => {
    const { jobId, companyIds } = await newJob(['flaky.com']);
    const companyId = companyIds[0]!;
    scripted.state.matchError = new ProviderError('transient', 'Explorium answered 503', { status: 503 });

    const delays: number[] = [];
    for (let delivery = 1; delivery <= 2; delivery++) {
      const err = await handler({ orgId: ORG, jobId, companyId }, { delivery }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryTaskLater);
      delays.push((err as RetryTaskLater).delayMs);
      expect(await company(companyId)).toMatchObject({ status: 'queued', attempts: delivery });
    }
    expect(delays).toEqual([50, 100]);
    await handler({ orgId: ORG, jobId, companyId }, { delivery: 3 });
    expect(await company(companyId)).toMatchObject({
      status: 'failed',
      attempts: 3,
      error_code: 'PROVIDER_TRANSIENT',
    });
    expect(await findJob(database.db, ORG, jobId)).toMatchObject({ status: 'completed', failedCount: 1 });
    await expectJobInvariants(database.db);
  });

  it("waits at least the provider's Retry-After after a 429", async () => {
    const { jobId, companyIds } = await newJob(['busy.com']);
    scripted.state.matchError = new ProviderError('rate_limited', 'Explorium answered 429', {
      retryAfterMs: 5_000,
    });
    const err = await handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery: 1 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(RetryTaskLater);
    expect((err as RetryTaskLater).delayMs).toBeGreaterThanOrEqual(5_000);
  });

  it('fails a company at once on a permanent error', async () => {
    const { jobId, companyIds } = await newJob(['bad-request.com']);
    scripted.state.matchError = new ProviderError('permanent', 'Explorium answered 422', { status: 422 });
    await handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery: 1 });
    expect(await company(companyIds[0]!)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error_code: 'PROVIDER_PERMANENT',
    });
  });

  it('pauses the job on a bad key, fails no company, and continues after resume', async () => {
    const { jobId, companyIds } = await newJob(['one.com', 'two.com']);
    scripted.state.matchError = new ProviderError('auth', 'Explorium rejected the API key (401)', {
      status: 401,
    });
    await Promise.all(
      companyIds.map((companyId) => handler({ orgId: ORG, jobId, companyId }, { delivery: 1 })),
    );

    const paused = await findJob(database.db, ORG, jobId);
    expect(paused).toMatchObject({
      status: 'paused',
      errorCode: 'PROVIDER_AUTH',
      failedCount: 0,
      queuedCount: 2,
    });
    expect(paused?.errorMessage).toContain('API key');
    for (const id of companyIds) expect(await company(id)).toMatchObject({ status: 'queued', attempts: 0 });
    // Nothing is claimed while the job is paused.
    expect(await claimOne(database.db, jobId, companyIds[0]!)).toBeNull();

    scripted.state.matchError = null;
    expect(await resumeJob(database.db, ORG, jobId)).toBe(true);
    await Promise.all(
      companyIds.map((companyId) => handler({ orgId: ORG, jobId, companyId }, { delivery: 1 })),
    );
    expect(await findJob(database.db, ORG, jobId)).toMatchObject({
      status: 'completed',
      enrichedCount: 2,
      errorCode: null,
    });
    await expectJobInvariants(database.db);
  });

  it('lets one worker claim a company, and another only after the lease ran out', async () => {
    const { jobId, companyIds } = await newJob(['contended.com']);
    const companyId = companyIds[0]!;
    const claims = await Promise.all(
      Array.from({ length: 5 }, () => claimOne(database.db, jobId, companyId)),
    );
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    expect(await claimOne(database.db, jobId, companyId)).toBeNull();

    // The worker holding it died: its lease runs out and another may claim it, counted once.
    await database.db.execute(
      sql`update companies set lease_expires_at = now() - interval '1 second' where id = ${companyId}`,
    );
    const reclaimed = await claimOne(database.db, jobId, companyId);
    expect(reclaimed).toMatchObject({ id: companyId, attempts: 2 });
    expect(await findJob(database.db, ORG, jobId)).toMatchObject({ queuedCount: 0, processingCount: 1 });
    await expectJobInvariants(database.db);
  });

  it('does nothing for another organization', async () => {
    const { jobId, companyIds } = await newJob(['mine.com']);
    await handler({ orgId: 'intruder', jobId, companyId: companyIds[0]! }, { delivery: 1 });
    expect(await company(companyIds[0]!)).toMatchObject({ status: 'queued', attempts: 0 });
  });

  it('answers a domain from the enrichment cache in a later job, unless the job forces a refresh', async () => {
    const first = await newJob(['cached-co.com', 'cached-miss.com']);
    scripted.state.unmatched.add('cached-miss.com');
    await Promise.all(
      first.companyIds.map((companyId) =>
        handler({ orgId: ORG, jobId: first.jobId, companyId }, { delivery: 1 }),
      ),
    );
    const callsAfterFirst = scripted.state.matchCalls;

    const second = await newJob(['cached-co.com', 'cached-miss.com']);
    await Promise.all(
      second.companyIds.map((companyId) =>
        handler({ orgId: ORG, jobId: second.jobId, companyId }, { delivery: 1 }),
      ),
    );
    expect(scripted.state.matchCalls).toBe(callsAfterFirst);
    expect(await company(second.companyIds[0]!)).toMatchObject({
      status: 'enriched',
      source: 'cache',
      name: 'Stripe',
    });
    expect(await company(second.companyIds[1]!)).toMatchObject({
      status: 'not_found',
      source: 'cache',
      error_code: 'NO_MATCH',
    });
    expect(await findJob(database.db, ORG, second.jobId)).toMatchObject({
      status: 'completed',
      cacheHits: 2,
    });

    const forced = await newJob(['cached-co.com'], { forceRefresh: true });
    await handler({ orgId: ORG, jobId: forced.jobId, companyId: forced.companyIds[0]! }, { delivery: 1 });
    expect(scripted.state.matchCalls).toBe(callsAfterFirst + 1);
    expect(await company(forced.companyIds[0]!)).toMatchObject({ status: 'enriched', source: 'provider' });
    await expectJobInvariants(database.db);
  });

  it("keeps a provider's signals on the company, and answers them from the cache in a later job", async () => {
    const signals = {
      emailProvider: 'Google Workspace',
      technologies: [{ name: 'WordPress', category: 'CMS' }],
      logoUrl: 'https://signals.example/logo.png',
      foundedYear: 2011,
      employeeCount: 240,
      socialProfiles: { github: 'https://github.com/signals-example' },
    };
    const withSignals: EnrichmentProvider = {
      ...scripted.provider,
      async enrichFirmographics(ids) {
        return new Map(ids.map((id) => [id, { ...FIRMO, signals }]));
      },
    };
    const wired = wireHandler(database.db, () => database.ping(), withSignals, { retryPolicy: policy });
    const signalsOf = async (id: string) =>
      (await database.db.execute<{ signals: unknown }>(sql`select signals from companies where id = ${id}`))
        .rows[0]!.signals;

    const first = await newJob(['signals.example']);
    await wired.handler({ orgId: ORG, jobId: first.jobId, companyId: first.companyIds[0]! }, { delivery: 1 });
    expect(await signalsOf(first.companyIds[0]!)).toEqual(signals);

    const second = await newJob(['signals.example']);
    await wired.handler(
      { orgId: ORG, jobId: second.jobId, companyId: second.companyIds[0]! },
      { delivery: 1 },
    );
    expect(await company(second.companyIds[0]!)).toMatchObject({ status: 'enriched', source: 'cache' });
    expect(await signalsOf(second.companyIds[0]!)).toEqual(signals);

    // A provider without signals leaves none (not a JSON null).
    const plain = await newJob(['plain.example']);
    await handler({ orgId: ORG, jobId: plain.jobId, companyId: plain.companyIds[0]! }, { delivery: 1 });
    expect(await signalsOf(plain.companyIds[0]!)).toBeNull();
  });

  it('claims a company delivered twice in one batch only once', async () => {
    const { jobId, companyIds } = await newJob(['twice.com']);
    const before = scripted.state.matchedDomains.length;
    await Promise.all(
      [1, 2, 3].map((delivery) => handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery })),
    );
    expect(scripted.state.matchedDomains.slice(before)).toEqual(['twice.com']);
    expect(await company(companyIds[0]!)).toMatchObject({ status: 'enriched', attempts: 1 });
  });

  it('fails only the item the provider failed, in a batch that enriches the others', async () => {
    const { jobId, companyIds } = await newJob(['batch-ok-1.com', 'batch-bad.com', 'batch-ok-2.com']);
    scripted.state.itemErrors.add('batch-bad.com');
    const calls = scripted.state.matchCalls;
    await Promise.all(
      companyIds.map((companyId) => handler({ orgId: ORG, jobId, companyId }, { delivery: 1 })),
    );
    expect(scripted.state.matchCalls).toBe(calls + 1);
    expect(await company(companyIds[0]!)).toMatchObject({ status: 'enriched' });
    expect(await company(companyIds[1]!)).toMatchObject({
      status: 'failed',
      error_code: 'PROVIDER_ITEM_ERROR',
      attempts: 1,
    });
    expect(await company(companyIds[2]!)).toMatchObject({ status: 'enriched' });
  });

  it('does not spend an attempt when the circuit turned the call away', async () => {
    const { jobId, companyIds } = await newJob(['circuit-open.com']);
    scripted.state.matchError = new ProviderError('transient', 'calls are paused', {
      retryAfterMs: 20_000,
      countsAsAttempt: false,
    });
    const err = await handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery: 1 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(RetryTaskLater);
    expect((err as RetryTaskLater).delayMs).toBeGreaterThanOrEqual(20_000);
    expect(await company(companyIds[0]!)).toMatchObject({ status: 'queued', attempts: 0 });
  });
  it('keeps the business id when the enrichment fails, so the retry enriches without matching again', async () => {
    const { jobId, companyIds } = await newJob(['keep-match.com']);
    const companyId = companyIds[0]!;
    scripted.state.enrichError = new ProviderError('transient', 'Explorium answered 503', { status: 503 });
    const matchCalls = scripted.state.matchCalls;
    const err = await handler({ orgId: ORG, jobId, companyId }, { delivery: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryTaskLater);
    expect(await company(companyId)).toMatchObject({
      status: 'queued',
      attempts: 1,
      // The step's match, kept for its retry; not yet the company's result.
      step_business_id: 'a'.repeat(32),
      business_id: null,
    });
    scripted.state.enrichError = null;
    await handler({ orgId: ORG, jobId, companyId }, { delivery: 2 });
    expect(scripted.state.matchCalls).toBe(matchCalls + 1);
    expect(await company(companyId)).toMatchObject({
      status: 'enriched',
      attempts: 2,
      name: 'Stripe',
      business_id: 'a'.repeat(32),
      step_business_id: null,
    });
  });

  it.each([
    [
      'a 429',
      new ProviderError('rate_limited', 'Explorium answered 429', { status: 429, retryAfterMs: 1_000 }),
    ],
    ['our own infrastructure (Redis down)', new Error('Connection is closed.')],
  ])('does not spend an attempt on %s', async (_what, failure) => {
    const { jobId, companyIds } = await newJob([`uncharged-${randomUUID()}.com`]);
    scripted.state.matchError = failure;
    for (let delivery = 1; delivery <= policy.maxAttempts + 2; delivery++) {
      const err = await handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RetryTaskLater);
    }
    // More deliveries than the company has attempts, and none spent: it is still queued.
    expect(await company(companyIds[0]!)).toMatchObject({ status: 'queued', attempts: 0 });
  });

  it('holds a paid result while PostgreSQL is unreachable, writes it once it is back, and calls the provider for nothing meanwhile', async () => {
    const url = new URL(databaseUrl);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    const cutOff = connectDatabase(url.toString(), { poolSize: 4 });
    try {
      const { jobId, companyIds } = await newJob(['held-1.com', 'held-2.com']);
      const wired = wireHandler(cutOff.db, () => cutOff.ping(), scripted.provider, { retryPolicy: policy });
      // The provider answers the first company's enrichment, and PostgreSQL goes away right then.
      scripted.state.duringEnrich = async () => {
        scripted.state.duringEnrich = null;
        proxy.cut();
      };
      const first = wired.handler({ orgId: ORG, jobId, companyId: companyIds[0]! }, { delivery: 1 });
      await expect.poll(() => wired.gate.isUp(), { timeout: 5_000, interval: 20 }).toBe(false);
      const callsWhileDown = scripted.state.matchCalls + scripted.state.enrichCalls;
      // A task delivered while the database is away neither claims nor calls the provider.
      const second = wired.handler({ orgId: ORG, jobId, companyId: companyIds[1]! }, { delivery: 1 });
      await new Promise((r) => setTimeout(r, 500));
      expect(scripted.state.matchCalls + scripted.state.enrichCalls).toBe(callsWhileDown);
      expect(await company(companyIds[0]!)).toMatchObject({ status: 'processing' });

      proxy.restore();
      await Promise.all([first, second]);
      expect(await company(companyIds[0]!)).toMatchObject({ status: 'enriched', name: 'Stripe' });
      expect(await company(companyIds[1]!)).toMatchObject({ status: 'enriched' });
      // Each business was enriched (paid) once.
      expect(scripted.state.enrichedIds.filter((id) => id === 'a'.repeat(32))).toHaveLength(2);
      expect(scripted.state.enrichCalls).toBe(2);
      await expectJobInvariants(database.db);
    } finally {
      await cutOff.close();
      await proxy.close();
    }
  });

  it('does not pay for a company taken over while this worker was frozen', async () => {
    const { jobId, companyIds } = await newJob(['frozen.com']);
    const companyId = companyIds[0]!;
    const wired = wireHandler(database.db, () => database.ping(), scripted.provider, {
      retryPolicy: policy,
      leaseMs: 1_000,
      renewIntervalMs: 200,
    });
    // Between the match and the enrichment, this worker stops renewing (frozen; its renewal timer
    // is not started here) and another worker takes the company over after the lease ran out.
    scripted.state.duringMatch = async () => {
      scripted.state.duringMatch = null;
      await database.db.execute(
        sql`update companies set claim_token = ${randomUUID()}, lease_expires_at = now() + interval '1 minute' where id = ${companyId}`,
      );
      await new Promise((r) => setTimeout(r, 900));
    };
    await wired.handler({ orgId: ORG, jobId, companyId }, { delivery: 1 });
    expect(scripted.state.enrichCalls).toBe(0);
    // Left to its new holder, untouched.
    expect(await company(companyId)).toMatchObject({ status: 'processing', attempts: 1 });
  });
  it("takes back its own claim when the answer to the claim was lost, and nobody else's", async () => {
    const { jobId, companyIds } = await newJob(['lost-answer.com']);
    const companyId = companyIds[0]!;
    const mine = randomUUID();
    expect(await claimOne(database.db, jobId, companyId, mine)).toMatchObject({ id: companyId });
    // The claim committed but its answer never came back: the same worker asks again and gets it,
    // counted once; another worker does not, while the lease runs.
    expect(await claimOne(database.db, jobId, companyId)).toBeNull();
    expect(await claimOne(database.db, jobId, companyId, mine)).toMatchObject({ id: companyId });
    expect(await findJob(database.db, ORG, jobId)).toMatchObject({ queuedCount: 0, processingCount: 1 });
    await expectJobInvariants(database.db);
  });

  it('fails only the company whose enrichment the provider failed on, and caches nothing for it', async () => {
    const { jobId, companyIds } = await newJob(['enrich-ok.com', 'enrich-bad.com']);
    scripted.state.enrichItemErrors.add('enrich-bad.com');
    await Promise.all(
      companyIds.map((companyId) => handler({ orgId: ORG, jobId, companyId }, { delivery: 1 })),
    );
    expect(await company(companyIds[0]!)).toMatchObject({ status: 'enriched', name: 'Stripe' });
    expect(await company(companyIds[1]!)).toMatchObject({
      status: 'failed',
      error_code: 'PROVIDER_ITEM_ERROR',
      name: null,
    });
    const cached = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from enrichment_cache where domain = 'enrich-bad.com'`,
    );
    expect(cached.rows[0]!.n).toBe(0);
  });
});
