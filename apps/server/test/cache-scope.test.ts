/**
 * The enrichment cache across organizations. With ENRICHMENT_CACHE_SCOPE=org (the default) an
 * organization probing domains another one enriched learns nothing: its estimate, its companies'
 * source and fetched_at, its counts and its credits read exactly as for a domain nobody looked up.
 * With `installation` the entry is shared: a free cache hit for the reader, the credits stay with
 * the job that paid.
 */
import type { Company, CompanyList, Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bearer, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

async function finished(t: TestSystem, job: Job, key: string): Promise<Job> {
  return vi.waitFor(
    async () => {
      const res = await fetch(`${t.baseUrl}/api/v1/jobs/${job.id}`, { headers: bearer(key) });
      const body = (await res.json()) as Job;
      if (body.status !== 'completed') throw new Error(`job ${job.id} is ${body.status}`);
      return body;
    },
    { timeout: 20_000, interval: 100 },
  );
}

async function enrich(
  t: TestSystem,
  key: string,
  domains: string[],
): Promise<{ job: Job; companies: Company[] }> {
  const res = await upload(t.baseUrl, csvFile(['domain', ...domains]), {}, key);
  expect(res.status).toBe(202);
  const job = await finished(t, (await res.json()) as Job, key);
  const list = await fetch(`${t.baseUrl}/api/v1/jobs/${job.id}/companies`, { headers: bearer(key) });
  return { job, companies: ((await list.json()) as CompanyList).data };
}

/** What a job's answer says about one company, without what differs between any two runs (ids, times). */
const shape = (job: Job, company: Company) => ({
  estimate: job.estimate,
  counts: job.counts,
  usage: job.usage,
  source: company.source,
  status: company.status,
});

describe('ENRICHMENT_CACHE_SCOPE=org (the default)', () => {
  let t: TestSystem;
  let acme: string;
  let globex: string;
  beforeAll(async () => {
    t = await startTestSystem();
    acme = await t.keyFor('acme-cache', 'member');
    globex = await t.keyFor('globex-cache', 'member');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers another organization’s probe of a domain exactly as one nobody looked up', async () => {
    const first = await enrich(t, acme, ['probed-lead.com']);
    const paid = first.companies[0]!;
    expect(paid.source).toBe('provider');
    // The organization that paid reads its own entry.
    const again = await enrich(t, acme, ['probed-lead.com']);
    expect(again.job.estimate?.cache_hits).toBe(1);
    expect(again.companies[0]).toMatchObject({ source: 'cache', fetched_at: paid.fetched_at });

    const calls = () => t.sandbox.stats().calls;
    const before = JSON.stringify(calls());
    const probe = await enrich(t, globex, ['probed-lead.com']);
    const control = await enrich(t, globex, ['never-looked-up.com']);
    const probed = probe.companies[0]!;
    // Nothing tells the probe from the control: estimate, counts, usage, source, status.
    expect(shape(probe.job, probed)).toEqual(shape(control.job, control.companies[0]!));
    expect(probe.job.estimate?.cache_hits).toBe(0);
    expect(probe.job.usage.cache_hits).toBe(0);
    expect(probed.source).toBe('provider');
    // Its own lookup, made now: not the time the other organization's result was fetched.
    expect(probed.fetched_at).not.toBe(paid.fetched_at);
    expect(Date.parse(probed.fetched_at!)).toBeGreaterThan(Date.parse(paid.fetched_at!));
    // And it reached the provider, paid for by the probing job.
    expect(JSON.stringify(calls())).not.toBe(before);
    const ledger = await t.system.database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from provider_calls where job_id = ${probe.job.id}`,
    );
    expect(ledger.rows[0]!.n).toBeGreaterThan(0);
  });

  it('keeps an entry written before entries had an organization for the installation scope only', async () => {
    await t.system.database.db.execute(sql`
      insert into enrichment_cache (provider, domain, org_id, business_id, firmographics, fetched_at)
      values ('sandbox', 'legacy-shared.com', '', 'legacy-business', null, now() - interval '1 day')`);
    const { job, companies } = await enrich(t, globex, ['legacy-shared.com']);
    expect(job.estimate?.cache_hits).toBe(0);
    expect(companies[0]!.source).toBe('provider');
  });
});

describe('ENRICHMENT_CACHE_SCOPE=installation', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ env: { ENRICHMENT_CACHE_SCOPE: 'installation' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('serves one organization’s entry to another as a free cache hit; the credits stay with the payer', async () => {
    const acme = await t.keyFor('acme-shared', 'member');
    const globex = await t.keyFor('globex-shared', 'member');
    const paid = await enrich(t, acme, ['shared-lead.com']);
    const reader = await enrich(t, globex, ['shared-lead.com']);
    expect(reader.job.estimate).toMatchObject({ cache_hits: 1, credits: 0 });
    expect(reader.companies[0]).toMatchObject({
      source: 'cache',
      fetched_at: paid.companies[0]!.fetched_at,
      business_id: paid.companies[0]!.business_id,
    });
    expect(reader.job.usage).toMatchObject({ cache_hits: 1, credits: 0, provider_calls: 0 });
    const ledger = await t.system.database.db.execute<{ job_id: string }>(
      sql`select distinct job_id from provider_calls where job_id in (${paid.job.id}, ${reader.job.id})`,
    );
    expect(ledger.rows).toEqual([{ job_id: paid.job.id }]);
  });
});
