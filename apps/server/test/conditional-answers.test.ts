/**
 * Conditional answers served from the API's cache of answers (http/conditional.ts): a change is
 * seen by the very next poll, whether it holds the ETag of the answer before (never a 304 for a
 * changed job or page) or no ETag at all (never the body before), in brotli, gzip or plain; the
 * same content has the same ETag again; another organization is never answered from the cache.
 */
import type { Company, CompanyList, Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiFetch, bearer, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const DOMAINS = Array.from({ length: 30 }, (_, i) => `conditional-${String(i).padStart(2, '0')}.com`);

describe('conditional answers', () => {
  let t: TestSystem;
  let job: Job;
  const jobUrl = () => `${t.baseUrl}/api/v1/jobs/${job.id}`;
  const pageUrl = (query: string) => `${t.baseUrl}/api/v1/jobs/${job.id}/companies${query}`;
  const sql = (statement: string) => t.system.database.db.execute(statement);
  const get = (url: string, headers: Record<string, string> = {}) => apiFetch(url, { headers });

  beforeAll(async () => {
    t = await startTestSystem();
    job = (await (await upload(t.baseUrl, csvFile(['domain', ...DOMAINS]))).json()) as Job;
    await vi.waitFor(
      async () => {
        if (((await (await get(jobUrl())).json()) as Job).status !== 'completed') throw new Error('running');
      },
      { timeout: 20_000, interval: 100 },
    );
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers a companies page changed right after a 304 with the change, never a 304', async () => {
    for (const [i, encoding] of (['br', 'gzip', 'identity', 'br', 'gzip'] as const).entries()) {
      const headers = { 'accept-encoding': encoding };
      const first = await get(pageUrl('?limit=10'), headers);
      const tag = first.headers.get('etag')!;
      expect((await get(pageUrl('?limit=10'), { ...headers, 'if-none-match': tag })).status).toBe(304);
      // The page is now known by its rows' versions; one of its rows changes at once.
      await sql(
        `update companies set name = 'Renamed ${i}' where job_id = '${job.id}' and row_number = ${i + 2}`,
      );
      const changed = await get(pageUrl('?limit=10'), { ...headers, 'if-none-match': tag });
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).not.toBe(tag);
      const rows = ((await changed.json()) as CompanyList).data;
      expect(rows.find((c) => c.row_number === i + 2)?.name).toBe(`Renamed ${i}`);
      // And without an ETag: the new body, not the one sent before.
      const plain = (await (await get(pageUrl('?limit=10'), headers)).json()) as CompanyList;
      expect(plain.data.find((c) => c.row_number === i + 2)?.name).toBe(`Renamed ${i}`);
    }
  });

  it('follows rows that leave a filtered page and come back: the same content, the same ETag', async () => {
    const url = pageUrl('?status=enriched&limit=5');
    const before = await get(url);
    const tag = before.headers.get('etag')!;
    const rows = ((await before.json()) as CompanyList).data;
    expect(rows).toHaveLength(5);
    const leaving = rows[2] as Company;
    await sql(`update companies set status = 'failed' where id = '${leaving.id}'`);
    const without = await get(url, { 'if-none-match': tag });
    expect(without.status).toBe(200);
    const next = ((await without.json()) as CompanyList).data;
    expect(next.map((c) => c.id)).not.toContain(leaving.id);
    expect(next).toHaveLength(5);
    // Back as it was, written again: the page is what it was, so the first ETag holds again.
    await sql(`update companies set status = 'enriched' where id = '${leaving.id}'`);
    expect((await get(url, { 'if-none-match': without.headers.get('etag')! })).status).toBe(200);
    expect((await get(url, { 'if-none-match': tag })).status).toBe(304);
  });

  it('answers a job changed right after a 304 with the change: its counts, its ledger', async () => {
    const tagOf = async () => (await get(jobUrl(), { 'accept-encoding': 'br' })).headers.get('etag')!;
    let tag = await tagOf();
    expect((await get(jobUrl(), { 'if-none-match': tag })).status).toBe(304);
    await sql(
      `update jobs set failed_count = failed_count + 1, enriched_count = enriched_count - 1 where id = '${job.id}'`,
    );
    const counted = await get(jobUrl(), { 'if-none-match': tag, 'accept-encoding': 'br' });
    expect(counted.status).toBe(200);
    const before = (await counted.json()) as Job;
    tag = counted.headers.get('etag')!;
    expect((await get(jobUrl(), { 'if-none-match': tag })).status).toBe(304);
    // A provider call settles: the usage moves while the job's row does not.
    await sql(
      `insert into provider_calls (org_id, job_id, provider, endpoint, items, credits, status, duration_ms)
       values ('${job.org_id}', '${job.id}', 'sandbox', 'bulk_enrich', 3, 3, 200, 10)`,
    );
    const billed = await get(jobUrl(), { 'if-none-match': tag, 'accept-encoding': 'br' });
    expect(billed.status).toBe(200);
    const after = (await billed.json()) as Job;
    expect(after.usage.credits).toBe(before.usage.credits + 3);
    expect(after.usage.provider_calls).toBe(before.usage.provider_calls + 1);
  });

  it('never answers another organization from the cache, with or without the ETag', async () => {
    const page = await get(pageUrl('?limit=10'), { 'accept-encoding': 'br' });
    const tag = page.headers.get('etag')!;
    const stranger = await t.keyFor('globex');
    for (const url of [pageUrl('?limit=10'), jobUrl()]) {
      for (const headers of [{}, { 'if-none-match': tag }]) {
        const res = await fetch(url, {
          headers: { ...bearer(stranger), 'accept-encoding': 'br', ...headers },
        });
        expect(res.status).toBe(404);
      }
    }
  });
});
