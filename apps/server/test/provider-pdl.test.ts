/**
 * People Data Labs as the installation's provider, end to end through its emulator on loopback:
 * one bulk call per 100 companies and no match call, billing only on a match, the ledger equal
 * to what the emulator counted, max_credits a cap, and the enrichment cache answering a re-run.
 * Then one whole job under each emulator setting that changes PDL's answers (a reading of its
 * docs), each checked for lost companies, companies paid twice, and the ledger against the bill.
 */
import type { Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupPdlWebsite } from '../src/providers/sandbox/pdl-data';
import {
  type PdlEmulator,
  type PdlEmulatorSettings,
  startPdlEmulator,
} from '../src/providers/sandbox/pdl-emulator';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const PDL_KEY = 'pdl-test-key';
const MIN_LIKELIHOOD = 5;

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;
}

async function ledger(t: TestSystem, jobId: string) {
  const result = await t.system.database.db.execute<{
    calls: number;
    credits: number;
    endpoints: string[];
  }>(sql`
    select count(distinct call_id)::int as calls, coalesce(sum(credits), 0)::int as credits,
           array_agg(distinct endpoint) as endpoints
    from provider_calls where job_id = ${jobId}`);
  return result.rows[0]!;
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
    const rows = await ledger(t, job.id);
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
    expect((await ledger(t, second.id)).calls).toBe(0);
  });

  it('holds max_credits as a cap: the job pauses and PDL never bills past it', async () => {
    const before = pdl.counts().creditsSpent;
    const domains = Array.from({ length: 400 }, (_, i) => `pdl-capped-${i}.com`);
    const job = await runJob(t, domains, { max_credits: '60' });
    expect(job.status).toBe('paused');
    const billed = pdl.counts().creditsSpent - before;
    expect(billed).toBeLessThanOrEqual(60);
    expect((await ledger(t, job.id)).credits).toBe(billed);
    expect(job.usage.credits).toBe(billed);
  });
});

/**
 * Calls for websites PDL does not know (404s: free) that fill the key's window: `calls` calls of
 * `items` each, once the window an earlier scenario filled has passed.
 */
async function fillWindow(
  pdl: PdlEmulator,
  { calls, items }: { calls: number; items: number },
): Promise<void> {
  const body = JSON.stringify({
    requests: Array.from({ length: items }, (_, i) => ({ params: { website: `nomatch-window-${i}.com` } })),
  });
  const call = async () => {
    const res = await fetch(`${pdl.url}/v5/company/enrich/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': PDL_KEY },
      body,
    });
    return res.status;
  };
  for (let i = 0; i < calls; i++) await expect.poll(call, { timeout: 10_000, interval: 200 }).toBe(200);
}

type Scenario = {
  name: string;
  /** Given the credits the emulator has billed so far (a credit limit counts from the first call). */
  settings: (creditsUsed: number) => PdlEmulatorSettings;
  /** For a setting that pauses the job: what puts things right before it is resumed. */
  fix?: PdlEmulatorSettings;
  /** What the setting must have made the emulator answer, so the run tested it: a call's status, or items failed inside answered calls. */
  seen?: number | 'item_errors';
  /** Calls that fill the emulator's window right before the upload, so the job meets a full window. */
  fillWindow?: { calls: number; items: number };
};

// Four calls a window, filled just before the upload: the job's first call meets a full window
// (when it leaves within 2 s) and waits for the reset, short enough for a test.
const TIGHT_WINDOW = { rateLimitPerMin: 4, rateWindowMs: 2_000 } as const;
const FILL_TIGHT_WINDOW = { calls: 4, items: 1 };

const SCENARIOS: Scenario[] = [
  { name: 'default settings', settings: () => ({}) },
  { name: 'items in reverse order', settings: () => ({ itemOrder: 'reversed' }) },
  { name: 'items without metadata', settings: () => ({ itemMetadata: 'omitted' }) },
  { name: 'records under data', settings: () => ({ bulkItemShape: 'data', itemOrder: 'reversed' }) },
  { name: '200 items with an empty record', settings: () => ({ emptyRecordShare: 0.2 }) },
  {
    name: 'items answered 503 in a 200 answer',
    settings: () => ({ itemFaultShare: 0.2, itemFaultStatus: 503 }),
    seen: 'item_errors',
  },
  {
    name: 'items answered 429 in a 200 answer',
    settings: () => ({ itemFaultShare: 0.2, itemFaultStatus: 429 }),
    seen: 'item_errors',
  },
  {
    name: '429, reset as an ISO time',
    settings: () => TIGHT_WINDOW,
    seen: 429,
    fillWindow: FILL_TIGHT_WINDOW,
  },
  {
    name: '429, reset in unix seconds',
    settings: () => ({ ...TIGHT_WINDOW, rateLimitResetFormat: 'epoch_seconds' }),
    seen: 429,
    fillWindow: FILL_TIGHT_WINDOW,
  },
  {
    name: '429, reset in seconds from now',
    settings: () => ({ ...TIGHT_WINDOW, rateLimitResetFormat: 'seconds_from_now' }),
    seen: 429,
    fillWindow: FILL_TIGHT_WINDOW,
  },
  {
    name: '429 without rate-limit headers',
    settings: () => ({ ...TIGHT_WINDOW, rateLimitHeaders: false }),
    seen: 429,
    fillWindow: FILL_TIGHT_WINDOW,
  },
  {
    name: '429 with Retry-After only',
    settings: () => ({ ...TIGHT_WINDOW, rateLimitHeaders: false, retryAfterHeader: true }),
    seen: 429,
    fillWindow: FILL_TIGHT_WINDOW,
  },
  {
    name: 'a limit counted in records',
    settings: () => ({ rateLimitPerMin: 100, rateLimitUnit: 'record', rateWindowMs: 2_000 }),
    seen: 429,
    fillWindow: { calls: 1, items: 100 },
  },
  {
    name: 'credits run out inside a call (402 per item)',
    settings: (used) => ({ creditLimit: used + 30 }),
    fix: { creditLimit: undefined },
    seen: 'item_errors',
  },
  {
    name: 'credits run out, the whole call refused 402',
    settings: (used) => ({ creditLimit: used + 30, creditsExhausted: 'whole_call' }),
    fix: { creditLimit: undefined },
    seen: 402,
  },
  {
    name: 'the key refused 401',
    settings: () => ({ apiKey: 'rotated-key' }),
    fix: { apiKey: PDL_KEY },
    seen: 401,
  },
  {
    name: 'the key refused 403',
    settings: () => ({ forbidden: true }),
    fix: { forbidden: false },
    seen: 403,
  },
];

/** Every setting a scenario may change, at its default, so one scenario's settings do not leak into the next. */
const DEFAULT_SETTINGS: PdlEmulatorSettings = {
  apiKey: PDL_KEY,
  rateLimitPerMin: 0,
  rateLimitUnit: 'request',
  rateLimitResetFormat: 'iso',
  rateLimitHeaders: true,
  retryAfterHeader: false,
  rateWindowMs: 60_000,
  creditLimit: undefined,
  creditsExhausted: 'per_item',
  bulkItemShape: 'flat',
  itemOrder: 'request',
  itemMetadata: 'echoed',
  emptyRecordShare: 0,
  itemFaultShare: 0,
  itemFaultStatus: 503,
  forbidden: false,
};

const COMPANIES_PER_JOB = 150;
const SCENARIO_TIMEOUT_MS = 60_000;

describe('a whole job under each reading of PDL', () => {
  let pdl: PdlEmulator;
  let t: TestSystem;
  beforeAll(async () => {
    pdl = await startPdlEmulator({ apiKey: PDL_KEY });
    t = await startTestSystem({
      env: {
        PROVIDER_BATCH_WINDOW_MS: '100',
        PDL_MIN_LIKELIHOOD: String(MIN_LIKELIHOOD),
        // Our own pacing out of the way: the emulator's limit is the one under test.
        PDL_RATE_LIMIT_PER_MIN: '6000',
      },
      provider: { name: 'pdl', baseUrl: pdl.url, apiKey: PDL_KEY, stop: async () => {} },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await pdl?.close();
  });

  async function waitFor(jobId: string, status: RegExp): Promise<Job> {
    await expect
      .poll(async () => (await getJob(t, jobId)).status, { timeout: 45_000, interval: 100 })
      .toMatch(status);
    return getJob(t, jobId);
  }

  it.each(SCENARIOS)(
    '$name: no company lost, none paid twice, the ledger equal to the bill',
    async (scenario) => {
      const index = SCENARIOS.indexOf(scenario);
      pdl.update({ ...DEFAULT_SETTINGS, ...scenario.settings(pdl.counts().creditsSpent) });
      if (scenario.fillWindow) await fillWindow(pdl, scenario.fillWindow);
      const before = pdl.counts();
      const domains = Array.from({ length: COMPANIES_PER_JOB }, (_, i) => `pdl-reading-${index}-${i}.com`);

      const res = await upload(t.baseUrl, csvFile(['domain', ...domains]), { org_id: 'acme' });
      expect(res.status).toBe(202);
      const created = (await res.json()) as Job;
      let job = await waitFor(created.id, /completed|paused/);
      if (scenario.fix) {
        // The setting stops the job as a whole: paused, no company failed for it.
        expect(job.status).toBe('paused');
        await expect
          .poll(async () => (await getJob(t, created.id)).counts.processing, { timeout: 10_000 })
          .toBe(0);
        expect((await getJob(t, created.id)).counts.failed).toBe(0);
        pdl.update(scenario.fix);
        const resumed = await apiFetch(`${t.baseUrl}/api/v1/jobs/${created.id}/resume?org_id=acme`, {
          method: 'POST',
        });
        expect(resumed.status).toBe(200);
        job = await waitFor(created.id, /completed|paused/);
      }
      expect(job.status).toBe('completed');

      // No company lost: each ends as PDL knows it, enriched when it matches above the threshold,
      // with PDL's likelihood / 10 as its match confidence when it shows PDL's data (a billed
      // empty record fills nothing, so it gives no confidence: enrichment/waterfall.ts).
      const outcomes = await t.system.database.db.execute<{
        domain: string;
        status: string;
        match_confidence: number | null;
        filled: number;
      }>(sql`select domain, status, match_confidence,
                    (select count(*) from jsonb_object_keys(coalesce(provenance, '{}'::jsonb)))::int as filled
             from companies where job_id = ${created.id}`);
      const byDomain = new Map(outcomes.rows.map((r) => [r.domain, r]));
      const wrong = domains.filter((domain) => {
        const lookup = lookupPdlWebsite(domain);
        const found = byDomain.get(domain);
        if (lookup.kind !== 'match' || lookup.likelihood < MIN_LIKELIHOOD)
          return found?.status !== 'not_found';
        if (found?.status !== 'enriched') return true;
        if (found.filled === 0) return found.match_confidence !== null;
        return !(Math.abs((found.match_confidence ?? Number.NaN) - lookup.likelihood / 10) <= 1e-6);
      });
      expect(wrong.map((d) => `${d}: ${JSON.stringify(byDomain.get(d))}`)).toEqual([]);
      // The synthetic records are full: only the empty-record setting leaves companies with nothing filled.
      const empty = outcomes.rows.filter((r) => r.status === 'enriched' && r.filled === 0).length;
      if (scenario.settings(0).emptyRecordShare) expect(empty).toBeGreaterThan(0);
      else expect(empty).toBe(0);

      const after = pdl.counts();
      if (scenario.seen === 'item_errors') expect(after.items.errors).toBeGreaterThan(before.items.errors);
      else if (scenario.seen !== undefined) {
        const answered = (c: typeof after) => c.responses[String(scenario.seen)] ?? 0;
        expect(answered(after)).toBeGreaterThan(answered(before));
      }

      // None paid twice, and the ledger says what the emulator billed.
      const billed = after.creditsSpent - before.creditsSpent;
      const paidTwice = domains.filter((d) => (after.billedWebsites[d] ?? 0) > 1);
      expect(paidTwice).toEqual([]);
      expect(billed).toBe(job.counts.enriched);
      const rows = await ledger(t, created.id);
      expect(rows.credits).toBe(billed);
      expect(rows.calls).toBe(after.calls.bulk - before.calls.bulk);
      expect(job.usage.credits).toBe(billed);
      await expectJobInvariants(t.system.database.db);
    },
    // A job meeting a full window waits for its resets (2 s each) several times over.
    SCENARIO_TIMEOUT_MS,
  );
});
