/**
 * Credits are money: counted through the sandbox's own call counts, over real HTTP.
 * Bulk calls, the enrichment cache across jobs, the estimate before a job runs, max_credits.
 */
import type { Company, CompanyList, Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

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

  it('pauses a job that reaches its max_credits', async () => {
    const fresh = Array.from({ length: 600 }, (_, i) => `credit-cap-${i}.com`);
    const job = await runJob(t, ['domain', ...fresh], { max_credits: '100' });
    expect(job.status).toBe('paused');
    expect(job.max_credits).toBe(100);
    expect(job.error?.code).toBe('CREDIT_LIMIT_REACHED');
    expect(job.usage.credits).toBeGreaterThanOrEqual(100);
    expect(job.counts.enriched).toBeLessThan(600);
    expect(job.counts.failed).toBe(0);
    await expectJobInvariants(t.system.database.db);
  });

  it('rejects a malformed max_credits or force_refresh with a clear message', async () => {
    for (const fields of [
      { max_credits: 'lots' },
      { max_credits: '0' },
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
