/**
 * People Data Labs as the installation's provider, end to end through its emulator on loopback:
 * one bulk call per 100 companies and no match call, billing only on a match, the ledger equal
 * to what the emulator counted, max_credits a cap, and the enrichment cache answering a re-run.
 */
import type { Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PdlEmulator, startPdlEmulator } from '../src/providers/sandbox/pdl-emulator';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const PDL_KEY = 'pdl-test-key';

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;
}

async function runJob(t: TestSystem, domains: string[], fields: Record<string, string> = {}): Promise<Job> {
  const res = await upload(t.baseUrl, csvFile(['domain', ...domains]), { org_id: 'acme', ...fields });
  expect(res.status).toBe(202);
  const created = (await res.json()) as Job;
  await expect
    .poll(async () => (await getJob(t, created.id)).status, { timeout: 30_000, interval: 100 })
    .toMatch(/completed|paused/);
  return getJob(t, created.id);
}

describe('People Data Labs as the provider', () => {
  let pdl: PdlEmulator;
  let t: TestSystem;
  beforeAll(async () => {
    pdl = await startPdlEmulator({ apiKey: PDL_KEY });
    t = await startTestSystem({
      env: { PROVIDER_BATCH_WINDOW_MS: '100', PDL_MIN_LIKELIHOOD: '5' },
      provider: { name: 'pdl', baseUrl: pdl.url, apiKey: PDL_KEY, stop: async () => {} },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await pdl?.close();
  });

  const ledger = async (jobId: string) =>
    (
      await t.system.database.db.execute<{ calls: number; credits: number; endpoints: string[] }>(sql`
        select count(distinct call_id)::int as calls, coalesce(sum(credits), 0)::int as credits,
               array_agg(distinct endpoint) as endpoints
        from provider_calls where job_id = ${jobId}`)
    ).rows[0]!;

  it('enriches in bulk calls of 100 without a match call, billing only what it found', async () => {
    pdl.reset();
    const before = pdl.counts().creditsSpent;
    const domains = Array.from({ length: 450 }, (_, i) => `pdl-run-${i}.com`);
    const job = await runJob(t, domains);

    expect(job.status).toBe('completed');
    expect(job.provider).toBe('pdl');
    // One call per 100 (no match call), a credit per company at most.
    expect(job.estimate).toMatchObject({ cache_hits: 0, provider_calls: 5, credits: 450 });
    expect(job.counts.enriched + job.counts.not_found).toBe(450);
    expect(job.counts.failed).toBe(0);
    // Some are below min_likelihood or unknown: not found, and not billed.
    expect(job.counts.not_found).toBeGreaterThan(0);
    expect(job.counts.enriched).toBeGreaterThan(0);

    const counts = pdl.counts();
    expect(counts.calls.enrich).toBe(0);
    expect(counts.calls.bulk).toBeGreaterThanOrEqual(5);
    expect(counts.calls.bulk).toBeLessThanOrEqual(10);
    const billed = counts.creditsSpent - before;
    expect(billed).toBe(job.counts.enriched);

    // The ledger says what the provider counted: its calls, its credits, and no match call.
    const rows = await ledger(job.id);
    expect(rows.calls).toBe(counts.calls.bulk);
    expect(rows.credits).toBe(billed);
    expect(rows.endpoints).toEqual(['bulk_enrich']);
    expect(job.usage.credits).toBe(billed);
    await expectJobInvariants(t.system.database.db);

    // Every domain asked once, none twice.
    expect(Object.values(counts.websites).every((n) => n === 1)).toBe(true);
  });

  it('answers a re-run of the same list from the cache, calling nothing', async () => {
    const domains = Array.from({ length: 120 }, (_, i) => `pdl-rerun-${i}.com`);
    const first = await runJob(t, domains);
    expect(first.status).toBe('completed');
    pdl.reset();
    const second = await runJob(t, domains);
    expect(second.status).toBe('completed');
    expect(second.counts).toEqual(first.counts);
    expect(pdl.counts().calls.bulk).toBe(0);
    expect((await ledger(second.id)).calls).toBe(0);
  });

  it('holds max_credits as a cap: the job pauses and PDL never bills past it', async () => {
    const before = pdl.counts().creditsSpent;
    const domains = Array.from({ length: 400 }, (_, i) => `pdl-capped-${i}.com`);
    const job = await runJob(t, domains, { max_credits: '60' });
    expect(job.status).toBe('paused');
    const billed = pdl.counts().creditsSpent - before;
    expect(billed).toBeLessThanOrEqual(60);
    expect((await ledger(job.id)).credits).toBe(billed);
    expect(job.usage.credits).toBe(billed);
  });
});
