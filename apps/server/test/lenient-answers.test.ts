/**
 * Answers the published schema allows: a match answer without `matched_businesses` (nothing
 * matched) finishes its companies as not found, instead of failing the batch permanently.
 */
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

describe('a provider that leaves empty lists out', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ sandbox: { omitEmptyLists: true } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('finishes companies nothing matched as not found, and enriches the rest', async () => {
    // Domains starting with `nomatch` never match in the sandbox.
    const misses = Array.from({ length: 30 }, (_, i) => `nomatch-lenient-${i}.com`);
    const { id } = (await (await upload(t.baseUrl, csvFile(['domain', ...misses]))).json()) as Job;
    const job = async () =>
      (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;
    await expect.poll(async () => (await job()).status, { timeout: 15_000 }).toBe('completed');
    expect((await job()).counts).toMatchObject({ not_found: 30, failed: 0 });
    // Every match answer of this job left its list out.
    expect(t.sandbox.stats().responses).toEqual({ '200': t.sandbox.stats().calls.match });

    const { id: mixedId } = (await (
      await upload(t.baseUrl, csvFile(['domain', 'stripe.com', 'nomatch-lenient-mixed.com']))
    ).json()) as Job;
    const mixed = async () =>
      (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${mixedId}?org_id=acme`)).json()) as Job;
    await expect.poll(async () => (await mixed()).status, { timeout: 15_000 }).toBe('completed');
    expect((await mixed()).counts).toMatchObject({ enriched: 1, not_found: 1, failed: 0 });
    await expectJobInvariants(t.system.database.db);
  });
});
