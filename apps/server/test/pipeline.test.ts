/**
 * The whole pipeline over real HTTP, a real PostgreSQL and the sandbox as a real HTTP server:
 * upload → job completed → companies → export; on the in-process queue and, with REDIS_URL, BullMQ.
 */
import type { Company, CompanyList, Job } from '@gtm-enrich/contracts';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, queueKinds, startTestSystem, type TestSystem, upload } from './test-system';

async function getJson<T>(url: string): Promise<T> {
  const res = await apiFetch(url);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as T;
}

async function waitForJob(baseUrl: string, jobId: string, orgId = 'acme'): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        job = await getJson<Job>(`${baseUrl}/api/v1/jobs/${jobId}?org_id=${orgId}`);
        return job.status;
      },
      { timeout: 20_000, interval: 100 },
    )
    .toBe('completed');
  return job!;
}

async function allCompanies(baseUrl: string, jobId: string, query = ''): Promise<Company[]> {
  const out: Company[] = [];
  let cursor: string | null = null;
  do {
    const page: CompanyList = await getJson<CompanyList>(
      `${baseUrl}/api/v1/jobs/${jobId}/companies?org_id=acme&limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

describe.each(queueKinds())('pipeline on the %s queue', (queue) => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ queue });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('enriches every unique domain of an upload and exports them', async () => {
    const file = csvFile(
      [
        'Company,Domain',
        'Stripe,https://www.Stripe.com/pricing',
        'Stripe again,stripe.com',
        'Nobody,nomatch-here.com',
        'Shopify,shopify.com',
        'Blank,',
        'Acme,acme-widgets-42.com',
        'Notion,notion.so',
      ],
      'prospects.csv',
    );
    const res = await upload(t.baseUrl, file);
    expect(res.status).toBe(202);
    const created = (await res.json()) as Job;
    expect(created).toMatchObject({
      org_id: 'acme',
      provider: 'sandbox',
      filename: 'prospects.csv',
      total: 5,
      input_rows: 7,
      rejected_rows: 1,
    });
    expect(res.headers.get('location')).toBe(`/api/v1/jobs/${created.id}`);

    const job = await waitForJob(t.baseUrl, created.id);
    expect(job.counts).toEqual({
      queued: 0,
      processing: 0,
      enriched: 4,
      not_found: 1,
      failed: 0,
      cancelled: 0,
    });
    expect(job.started_at).not.toBeNull();
    expect(job.finished_at).not.toBeNull();

    const companies = await allCompanies(t.baseUrl, created.id);
    expect(companies.map((c) => c.domain)).toEqual([
      'stripe.com',
      'nomatch-here.com',
      'shopify.com',
      'acme-widgets-42.com',
      'notion.so',
    ]);
    const stripe = companies.find((c) => c.domain === 'stripe.com')!;
    expect(stripe).toMatchObject({
      status: 'enriched',
      input: 'https://www.Stripe.com/pricing',
      row_number: 1,
      name: 'Stripe',
      attempts: 1,
      error: null,
    });
    expect(stripe.business_id).toMatch(/^[0-9a-f]{32}$/);
    for (const c of companies.filter((x) => x.status === 'enriched')) {
      expect(c.industry).toBeTruthy();
      expect(c.company_size).toBeTruthy();
      expect(c.revenue_range).toBeTruthy();
    }
    const missing = companies.find((c) => c.domain === 'nomatch-here.com')!;
    expect(missing).toMatchObject({ status: 'not_found', business_id: null, error: { code: 'NO_MATCH' } });

    const notFound = await allCompanies(t.baseUrl, created.id, '&status=not_found');
    expect(notFound.map((c) => c.domain)).toEqual(['nomatch-here.com']);
    const search = await allCompanies(t.baseUrl, created.id, '&q=shop');
    expect(search.map((c) => c.domain)).toEqual(['shopify.com']);

    const rejected = await getJson<{ data: { row_number: number; reason: string }[] }>(
      `${t.baseUrl}/api/v1/jobs/${created.id}/rejected?org_id=acme`,
    );
    expect(rejected.data).toEqual([expect.objectContaining({ row_number: 5, reason: 'empty' })]);

    const exportRes = await apiFetch(`${t.baseUrl}/api/v1/jobs/${created.id}/export.csv?org_id=acme`);
    expect(exportRes.status).toBe(200);
    expect(exportRes.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(exportRes.headers.get('content-disposition')).toContain('prospects-enriched.csv');
    const rows = parse(await exportRes.text(), { columns: true, bom: true }) as Record<string, string>[];
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatchObject({ domain: 'stripe.com', status: 'enriched', name: 'Stripe' });
    expect(rows.find((r) => r.domain === 'nomatch-here.com')).toMatchObject({
      status: 'not_found',
      error_code: 'NO_MATCH',
      revenue_range: '',
    });

    await expectJobInvariants(t.system.database.db);
    // Each unique domain was sent to the provider once, in bulk calls; each match enriched once.
    const stats = t.sandbox.stats();
    expect(stats.items.match).toBe(5);
    expect(Object.values(stats.domainsMatched).every((n) => n === 1)).toBe(true);
    expect(stats.items.bulk_enrich).toBe(4);
    expect(stats.calls.enrich).toBe(0);
  });

  it('lists jobs newest first with a cursor, and keeps organizations apart', async () => {
    const ids: string[] = [];
    for (const name of ['a.csv', 'b.csv', 'c.csv']) {
      const res = await upload(t.baseUrl, csvFile(['domain', `${name[0]}-list-example.com`], name), {
        org_id: 'lister',
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as Job).id);
    }
    const first = await getJson<{ data: Job[]; next_cursor: string | null }>(
      `${t.baseUrl}/api/v1/jobs?org_id=lister&limit=2`,
    );
    expect(first.data.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(first.next_cursor).not.toBeNull();
    const second = await getJson<{ data: Job[]; next_cursor: string | null }>(
      `${t.baseUrl}/api/v1/jobs?org_id=lister&limit=2&cursor=${first.next_cursor}`,
    );
    expect(second.data.map((j) => j.id)).toEqual([ids[0]]);
    expect(second.next_cursor).toBeNull();

    const foreign = await apiFetch(`${t.baseUrl}/api/v1/jobs/${ids[0]}?org_id=someone-else`);
    expect(foreign.status).toBe(404);
    const body = await foreign.text();
    expect(body).not.toContain('a-list-example.com');
    const foreignCompanies = await apiFetch(
      `${t.baseUrl}/api/v1/jobs/${ids[0]}/companies?org_id=someone-else`,
    );
    expect(foreignCompanies.status).toBe(404);
    const foreignList = await getJson<{ data: Job[] }>(`${t.baseUrl}/api/v1/jobs?org_id=someone-else`);
    expect(foreignList.data).toEqual([]);
  });
});
