/**
 * Credits are money: counted through the sandbox's own call counts, over real HTTP.
 * Bulk calls, the enrichment cache across jobs, the estimate before a job runs, and max_credits as
 * a cap: credits are reserved before each call, so the sandbox never bills a job past its limit.
 */
import type { Company, CompanyList, Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, queueKinds, startTestSystem, type TestSystem, upload } from './test-system';

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;
}

async function runJob(t: TestSystem, lines: string[], fields: Record<string, string> = {}): Promise<Job> {
  const res = await upload(t.baseUrl, csvFile(lines), { org_id: 'acme', ...fields });
  expect(res.status).toBe(202);
  const created = (await res.json()) as Job;
  await expect
    .poll(async () => (await getJob(t, created.id)).status, { timeout: 30_000, interval: 100 })
    .toMatch(/completed|paused/);
  return getJob(t, created.id);
}

const calls = (t: TestSystem) => {
  const s = t.sandbox.stats();
  return s.calls.match + s.calls.bulk_enrich + s.calls.enrich;
};

describe('credits', () => {
  let t: TestSystem;
  beforeAll(async () => {
    // The production batch window: long enough for a round of companies to fill the next batch.
    t = await startTestSystem({ env: { PROVIDER_BATCH_WINDOW_MS: '100' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const domains = Array.from({ length: 1000 }, (_, i) => `credit-test-${i}.com`);
  // 200 rows repeat a domain in another spelling: they must cost nothing.
  const lines = ['website', ...domains, ...domains.slice(0, 200).map((d) => `https://www.${d}/about`)];

  it('enriches 1,000 unique domains in at most 40 provider calls, and estimates it up front', async () => {
    const before = calls(t);
    const job = await runJob(t, lines);
    expect(job.status).toBe('completed');
    expect(job.total).toBe(1000);
    expect(job.counts.enriched + job.counts.not_found).toBe(1000);
    expect(job.estimate).toEqual({
      cache_hits: 0,
      provider_calls: 40,
      credits: 1000,
      duration_seconds: expect.any(Number),
      providers: [{ provider: 'sandbox', provider_calls: 40, credits: 1000 }],
    });

    const spent = calls(t) - before;
    expect(spent).toBeLessThanOrEqual(40);
    const stats = t.sandbox.stats();
    expect(stats.items.match).toBe(1000);
    expect(Object.values(stats.domainsMatched).every((n) => n === 1)).toBe(true);
    expect(job.usage).toMatchObject({
      provider_calls: spent,
      records_billed: 1000 + job.counts.enriched,
      cache_hits: 0,
    });
    expect(job.usage.credits).toBeGreaterThan(900);
    await expectJobInvariants(t.system.database.db);
  });

  it('costs nothing to run the same list again: every company comes from the cache', async () => {
    const before = calls(t);
    const job = await runJob(t, lines);
    expect(calls(t) - before).toBe(0);
    expect(job.estimate).toMatchObject({ cache_hits: 1000, provider_calls: 0, credits: 0 });
    expect(job.usage).toMatchObject({ provider_calls: 0, credits: 0, cache_hits: 1000 });
    const page = (await (
      await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}/companies?org_id=acme&status=enriched&limit=5`)
    ).json()) as CompanyList;
    expect(page.data.length).toBe(5);
    for (const c of page.data as Company[]) {
      expect(c.source).toBe('cache');
      expect(c.fetched_at).not.toBeNull();
      expect(c.industry).not.toBeUndefined();
    }
  });

  it('asks the provider again when the upload forces a refresh', async () => {
    const before = calls(t);
    const job = await runJob(t, ['domain', ...domains.slice(0, 100)], { force_refresh: 'true' });
    expect(job.force_refresh).toBe(true);
    expect(job.usage.cache_hits).toBe(0);
    expect(calls(t) - before).toBeGreaterThanOrEqual(2);
  });

  it('rejects a malformed max_credits or force_refresh with a clear message', async () => {
    for (const fields of [
      { max_credits: 'lots' },
      { max_credits: '0' },
      { max_credits: '3000000000' },
      { force_refresh: 'maybe' },
    ] as Record<string, string>[]) {
      const res = await upload(t.baseUrl, csvFile(['domain', 'a-company.com']), {
        org_id: 'acme',
        ...fields,
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/max_credits|force_refresh/);
    }
  });
});

/** Waits until the job stops (paused or completed) with nothing in flight: no call can still bill it. */
async function settled(t: TestSystem, id: string): Promise<Job> {
  await expect
    .poll(
      async () => {
        const job = await getJob(t, id);
        return job.status !== 'running' && job.status !== 'queued' && job.counts.processing === 0;
      },
      { timeout: 60_000, interval: 100 },
    )
    .toBe(true);
  return getJob(t, id);
}

async function start(t: TestSystem, lines: string[], fields: Record<string, string>): Promise<Job> {
  const res = await upload(t.baseUrl, csvFile(lines), { org_id: 'acme', ...fields });
  expect(res.status).toBe(202);
  return (await res.json()) as Job;
}

const patchJob = (t: TestSystem, id: string, body: unknown, headers: Record<string, string> = {}) =>
  apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const resume = (t: TestSystem, id: string) =>
  apiFetch(`${t.baseUrl}/api/v1/jobs/${id}/resume?org_id=acme`, { method: 'POST' });

describe('max_credits is a cap', () => {
  let t: TestSystem;
  beforeAll(async () => {
    // A sandbox of its own: its billed count is this describe's alone.
    t = await startTestSystem({ env: { PROVIDER_BATCH_WINDOW_MS: '100' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  for (const limit of [10, 100, 500]) {
    it(`bills exactly max_credits=${limit} and pauses, the ledger equal to the sandbox's count`, async () => {
      const billedBefore = t.sandbox.stats().creditsUsed;
      const fresh = Array.from({ length: limit + 300 }, (_, i) => `cap-${limit}-${i}.com`);
      const job = await settled(t, (await start(t, ['domain', ...fresh], { max_credits: String(limit) })).id);
      const billed = t.sandbox.stats().creditsUsed - billedBefore;
      expect(billed).toBe(limit);
      expect(job.usage.credits).toBe(billed);
      expect(job.status).toBe('paused');
      expect(job.error?.code).toBe('CREDIT_LIMIT_REACHED');
      expect(job.error?.message).toMatch(/raise or remove the limit.*PATCH.*then resume/);
      expect(job.counts.failed).toBe(0);
      expect(job.counts.queued).toBeGreaterThan(0);
      await expectJobInvariants(t.system.database.db);
    });
  }

  it('goes on after the limit is raised and resumed, and completes once it is removed', async () => {
    const billedBefore = t.sandbox.stats().creditsUsed;
    const fresh = Array.from({ length: 150 }, (_, i) => `raise-${i}.com`);
    let job = await settled(t, (await start(t, ['domain', ...fresh], { max_credits: '10' })).id);
    expect(job.usage.credits).toBe(10);

    // Still at its limit: resuming would pause again at once.
    const early = await resume(t, job.id);
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { message: string } }).error.message).toMatch(
      /raise or remove the limit first/,
    );

    const raised = await patchJob(t, job.id, { max_credits: 40 });
    expect(raised.status).toBe(200);
    expect(((await raised.json()) as Job).max_credits).toBe(40);
    expect((await resume(t, job.id)).status).toBe(200);
    job = await settled(t, job.id);
    expect(job.status).toBe('paused');
    expect(job.usage.credits).toBe(40);
    expect(t.sandbox.stats().creditsUsed - billedBefore).toBe(40);

    expect((await patchJob(t, job.id, { max_credits: null })).status).toBe(200);
    expect((await resume(t, job.id)).status).toBe(200);
    job = await settled(t, job.id);
    expect(job.status).toBe('completed');
    expect(job.max_credits).toBeNull();
    expect(job.counts.enriched + job.counts.not_found).toBe(150);
    expect(job.usage.credits).toBe(t.sandbox.stats().creditsUsed - billedBefore);

    // Finished: the limit cannot change any more.
    const late = await patchJob(t, job.id, { max_credits: 1000 });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe('CONFLICT');
    await expectJobInvariants(t.system.database.db);
  });

  it('refuses a limit not above what is spent (422), a bad body (400), a viewer (403), another organization (404)', async () => {
    const fresh = Array.from({ length: 100 }, (_, i) => `refuse-${i}.com`);
    const job = await settled(t, (await start(t, ['domain', ...fresh], { max_credits: '10' })).id);

    const low = await patchJob(t, job.id, { max_credits: 10 });
    expect(low.status).toBe(422);
    const lowBody = (await low.json()) as { error: { code: string; message: string; details: unknown } };
    expect(lowBody.error).toMatchObject({
      code: 'CREDIT_LIMIT_TOO_LOW',
      details: { credits_spent: 10, credits_held: 0 },
    });
    expect(lowBody.error.message).toMatch(/not above the 10 credits/);

    for (const body of [
      { max_credits: 0 },
      { max_credits: 2.5 },
      { max_credits: '20' },
      { max_credits: 3_000_000_000 },
      {},
      { limit: 5 },
    ]) {
      const res = await patchJob(t, job.id, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }

    const viewer = await t.keyFor('acme', 'viewer');
    expect(
      (await patchJob(t, job.id, { max_credits: 50 }, { authorization: `Bearer ${viewer}` })).status,
    ).toBe(403);
    const member = await t.keyFor('acme', 'member');
    expect(
      (await patchJob(t, job.id, { max_credits: 50 }, { authorization: `Bearer ${member}` })).status,
    ).toBe(200);
    const other = await t.keyFor('other-org');
    const foreign = await apiFetch(`${t.baseUrl}/api/v1/jobs/${job.id}?org_id=other-org`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${other}` },
      body: JSON.stringify({ max_credits: 5000 }),
    });
    expect(foreign.status).toBe(404);
    expect((await getJob(t, job.id)).max_credits).toBe(50);
  });

  it('completes on resume a paused job whose companies all finished', async () => {
    const job = await settled(t, (await start(t, ['domain', 'done-1.com', 'done-2.com'], {})).id);
    expect(job.status).toBe('completed');
    // The state a job is left in when it pauses while its last companies are in flight.
    await t.system.database.db.execute(
      sql`update jobs set status = 'paused', finished_at = null, error_code = 'CREDIT_LIMIT_REACHED' where id = ${job.id}`,
    );
    const res = await resume(t, job.id);
    expect(res.status).toBe(200);
    const resumed = (await res.json()) as Job;
    expect(resumed.status).toBe('completed');
    expect(resumed.finished_at).not.toBeNull();
    expect(resumed.error).toBeNull();
  });
});

describe.runIf(queueKinds().includes('bullmq'))(
  'max_credits across two workers, 20 % of calls failing',
  () => {
    let api: TestSystem;
    let workers: TestSystem[] = [];
    beforeAll(async () => {
      // Failed calls bill nothing: their reservations must come back, or the job pauses short.
      api = await startTestSystem({
        queue: 'bullmq',
        roles: { api: true, worker: false },
        sandbox: { errorRate: 0.2 },
      });
      workers = await Promise.all(
        [0, 1].map(() =>
          startTestSystem({
            queue: 'bullmq',
            roles: { api: false, worker: true },
            shareWith: api,
            env: { PROVIDER_BATCH_WINDOW_MS: '100' },
          }),
        ),
      );
    });
    afterAll(async () => {
      for (const w of workers) await w.stop();
      await api?.stop();
    });

    it('two workers spending for one job together bill exactly its max_credits', async () => {
      const fresh = Array.from({ length: 800 }, (_, i) => `two-workers-${i}.com`);
      const job = await settled(api, (await start(api, ['domain', ...fresh], { max_credits: '100' })).id);
      expect(api.sandbox.stats().creditsUsed).toBe(100);
      expect(job.usage.credits).toBe(100);
      expect(job.status).toBe('paused');
      expect(job.counts.failed).toBe(0);

      // Raised and resumed on both workers: exactly the new limit, not a batch more.
      expect((await patchJob(api, job.id, { max_credits: 400 })).status).toBe(200);
      expect((await resume(api, job.id)).status).toBe(200);
      const raised = await settled(api, job.id);
      expect(raised.status).toBe('paused');
      expect(api.sandbox.stats().creditsUsed).toBe(400);
      expect(raised.usage.credits).toBe(400);
      // The sandbox fails a call with a 500 or a 503.
      const { responses } = api.sandbox.stats();
      expect((responses['500'] ?? 0) + (responses['503'] ?? 0)).toBeGreaterThan(0);
    });
  },
);
