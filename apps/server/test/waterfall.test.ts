/**
 * A provider waterfall end to end: the Explorium emulator (the sandbox), People Data Labs'
 * emulator and the keyless web provider (against a DNS server on loopback), asked in that order.
 * Each provider is asked only for companies with a field it can fill still empty, every filled
 * field says where it came from, the ledger per provider equals each emulator's own count, no
 * company is paid for twice (also when a later provider fails), and a re-run costs nothing.
 */
import {
  type Company,
  type CompanyList,
  ENRICHED_FIELDS,
  type EnrichedField,
  type Job,
  provenanceOf,
} from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRMOGRAPHIC_FIELDS } from '../src/providers/provider';
import { type PdlEmulator, startPdlEmulator } from '../src/providers/sandbox/pdl-emulator';
import { expectJobInvariants } from './invariants';
import { type LocalDnsServer, startLocalDnsServer } from './local-dns-server';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const PDL_KEY = 'pdl-waterfall-key';

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;
}

async function runJob(t: TestSystem, domains: string[], fields: Record<string, string> = {}): Promise<Job> {
  const res = await upload(t.baseUrl, csvFile(['domain', ...domains]), { org_id: 'acme', ...fields });
  expect(res.status, await res.clone().text()).toBe(202);
  const created = (await res.json()) as Job;
  await expect
    .poll(async () => (await getJob(t, created.id)).status, { timeout: 60_000, interval: 100 })
    .toMatch(/completed|paused/);
  return getJob(t, created.id);
}

async function allCompanies(t: TestSystem, jobId: string, query = ''): Promise<Company[]> {
  const out: Company[] = [];
  let cursor: string | null = null;
  do {
    const page = (await (
      await apiFetch(
        `${t.baseUrl}/api/v1/jobs/${jobId}/companies?limit=500${query}${cursor ? `&cursor=${cursor}` : ''}`,
      )
    ).json()) as CompanyList;
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** Requests the sandbox received, whatever it answered. */
const callsOfStats = (stats: ReturnType<TestSystem['sandbox']['stats']>) =>
  stats.calls.match + stats.calls.bulk_enrich + stats.calls.enrich;
const callsOf = (t: TestSystem) => callsOfStats(t.sandbox.stats());

/** The value of a field as the API shows it, or null when empty (as the waterfall counts it). */
function fieldValue(c: Company, field: EnrichedField): unknown {
  const signals = c.signals;
  const value: unknown = {
    name: c.name,
    industry: c.industry,
    company_size: c.company_size,
    revenue_range: c.revenue_range === 'Unknown' ? null : c.revenue_range,
    country: c.country,
    region: c.region,
    city: c.city,
    website: c.website,
    linkedin_url: c.linkedin_url,
    description: c.description,
    email_provider: signals?.email_provider ?? null,
    technologies: signals?.technologies.length ? signals.technologies : null,
    logo_url: signals?.logo_url ?? null,
    founded_year: signals?.founded_year ?? null,
    employee_count: signals?.employee_count ?? null,
    social_profiles:
      signals && Object.keys(signals.social_profiles).length > 0 ? signals.social_profiles : null,
  }[field];
  return value ?? null;
}

describe('a provider waterfall: explorium (sandbox), then pdl, then web', () => {
  let pdl: PdlEmulator;
  let dns: LocalDnsServer;
  let t: TestSystem;
  beforeAll(async () => {
    pdl = await startPdlEmulator({ apiKey: PDL_KEY });
    // Every company's mail is at Google; names starting with `nodns` do not exist.
    dns = await startLocalDnsServer((name, type) => {
      if (name.startsWith('nodns') || name.startsWith('nomatch')) return 'NXDOMAIN';
      if (type === 'MX') return { MX: [{ exchange: 'aspmx.l.google.com', priority: 1 }] };
      return {};
    });
    t = await startTestSystem({
      env: {
        PROVIDER_BATCH_WINDOW_MS: '100',
        DNS_SERVERS: dns.server,
        PDL_MIN_LIKELIHOOD: '5',
        // No sweep during the tests: a company reaches its next provider only by being handed on.
        SWEEP_INTERVAL_MS: '3600000',
      },
      providers: [
        { name: 'sandbox', baseUrl: '', apiKey: 'test-key', stop: async () => {} },
        { name: 'pdl', baseUrl: pdl.url, apiKey: PDL_KEY, stop: async () => {} },
        { name: 'web', baseUrl: '', apiKey: '', stop: async () => {} },
      ],
    });
  });
  afterAll(async () => {
    await t?.stop();
    await pdl?.close();
    await dns?.close();
  });

  it('asks each provider only for fields still empty, and says where every value came from', async () => {
    pdl.reset();
    const sandboxBefore = t.sandbox.stats();
    const domains = Array.from({ length: 1000 }, (_, i) => `waterfall-${i}.com`);
    const job = await runJob(t, domains);
    expect(job.status).toBe('completed');
    expect(job.providers).toEqual(['sandbox', 'pdl', 'web']);
    expect(job.estimate?.providers.map((p) => p.provider)).toEqual(['sandbox', 'pdl', 'web']);
    await expectJobInvariants(t.system.database.db);

    const companies = await allCompanies(t, job.id);
    expect(companies).toHaveLength(1000);
    // The web provider read every domain's MX: every company was found by someone.
    expect(companies.every((c) => c.status === 'enriched')).toBe(true);

    // PDL was asked exactly for the companies the sandbox left a firmographic field empty on.
    const afterSandbox = companies.filter((c) =>
      FIRMOGRAPHIC_FIELDS.some((f) => provenanceOf(c.provenance, f)?.provider !== 'sandbox'),
    );
    expect(afterSandbox.length).toBeGreaterThan(0);
    expect(afterSandbox.length).toBeLessThan(1000);
    const asked = pdl.counts();
    expect(asked.items.sent).toBe(afterSandbox.length);

    // Calls per 1,000 domains per paid provider.
    const sandboxCalls = callsOf(t) - callsOfStats(sandboxBefore);
    expect(sandboxCalls).toBeLessThanOrEqual(40);
    expect(asked.calls.bulk).toBeLessThanOrEqual(40);

    for (const c of companies) {
      for (const field of ENRICHED_FIELDS) {
        const value = fieldValue(c, field);
        // A value has a provider; an empty field has none.
        expect(provenanceOf(c.provenance, field) !== undefined, `${c.domain} ${field}`).toBe(value !== null);
      }
      // The sandbox's fields are its own; PDL filled only what it left empty; the web its signals.
      expect(provenanceOf(c.provenance, 'email_provider')).toMatchObject({
        provider: 'web',
        source: 'provider',
      });
      expect(c.signals?.email_provider).toBe('Google Workspace');
      for (const p of c.provenance) {
        if (p.provider === 'pdl') {
          expect(p.confidence).toBeGreaterThanOrEqual(0.5);
          for (const field of p.fields) expect(FIRMOGRAPHIC_FIELDS).toContain(field);
        }
      }
      // The confidence is the first data provider's: PDL's likelihood, the sandbox's none.
      const first = c.provenance.filter((p) => p.provider !== 'web').map((p) => p.provider);
      if (first.includes('sandbox')) expect(c.match_confidence).toBeNull();
      else if (first.includes('pdl')) expect(c.match_confidence).toBeGreaterThanOrEqual(0.5);
    }
    // Some company had a field filled by PDL after the sandbox: the waterfall did something.
    expect(companies.some((c) => c.provenance.some((p) => p.provider === 'pdl'))).toBe(true);

    // The ledger per provider equals each emulator's own count.
    const usage = new Map(job.usage.providers.map((p) => [p.provider, p]));
    expect(usage.get('pdl')).toMatchObject({ provider_calls: asked.calls.bulk, credits: asked.creditsSpent });
    expect(usage.get('sandbox')?.provider_calls).toBe(sandboxCalls);
    // The web provider is free: its calls are in the ledger, its credits are none.
    expect(usage.get('web')).toMatchObject({ credits: 0 });
    expect(job.usage.credits).toBe((usage.get('sandbox')?.credits ?? 0) + asked.creditsSpent);

    // A confidence filter keeps only companies a provider vouched for that much.
    const confident = await allCompanies(t, job.id, '&min_confidence=0.8');
    expect(confident.length).toBeGreaterThan(0);
    expect(confident.every((c) => (c.match_confidence ?? 0) >= 0.8)).toBe(true);

    // Running the same list again costs nothing anywhere: every answer is in the cache.
    const sandboxAgain = callsOf(t);
    const dnsQuestions = dns.questions.length;
    const rerun = await runJob(t, domains);
    expect(rerun.usage.provider_calls).toBe(0);
    expect(pdl.counts().calls.bulk).toBe(asked.calls.bulk);
    expect(callsOf(t)).toBe(sandboxAgain);
    expect(dns.questions.length).toBe(dnsQuestions);
    expect(rerun.counts.enriched).toBe(1000);
  });

  it('is not_found only when every provider said so, and honours a waterfall the upload names', async () => {
    pdl.reset();
    const job = await runJob(t, ['nomatch-nowhere.com', 'nomatch-either.com', 'stripe.com'], {
      providers: 'pdl,sandbox',
    });
    expect(job.providers).toEqual(['pdl', 'sandbox']);
    const companies = await allCompanies(t, job.id);
    const byDomain = new Map(companies.map((c) => [c.domain, c]));
    expect(byDomain.get('nomatch-nowhere.com')).toMatchObject({ status: 'not_found', provenance: [] });
    expect(provenanceOf(byDomain.get('stripe.com')!.provenance, 'name')?.provider).toBe('pdl');
    // Asked first, PDL filled what it knew; the web provider, not named, was not asked.
    expect(byDomain.get('stripe.com')?.signals).toBeNull();
  });

  it('refuses a waterfall naming a provider this server cannot ask, or one twice', async () => {
    for (const providers of ['explorium', 'pdl,pdl', 'clearbit']) {
      const res = await upload(t.baseUrl, csvFile(['domain', 'a.com']), { org_id: 'acme', providers });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/providers/);
    }
  });

  it('pays no provider twice when a later one fails and the company is retried', async () => {
    pdl.reset();
    // PDL answers every company's first asking 503 inside its answer: each waits at PDL's step,
    // with the sandbox's fields saved, and is asked again. (A whole-call outage would also open
    // the circuit breaker for its 30 s cooldown: the same path, only slower.)
    pdl.update({ itemFaultShare: 1, itemFaultStatus: 503 });
    const sandboxBefore = t.sandbox.stats();
    const domains = Array.from({ length: 200 }, (_, i) => `waterfall-retry-${i}.com`);
    try {
      const job = await runJob(t, domains);
      expect(job.status).toBe('completed');
      await expectJobInvariants(t.system.database.db);
      expect(job.counts.enriched).toBe(200);
      expect(pdl.counts().items.errors).toBeGreaterThan(0);
      // Each domain matched once at the sandbox, whatever PDL did in between.
      const matched = t.sandbox.stats().domainsMatched;
      for (const d of domains) expect((matched[d] ?? 0) - (sandboxBefore.domainsMatched[d] ?? 0)).toBe(1);
      // PDL's ledger is its own count, the calls with failed items included; none billed twice.
      const usage = job.usage.providers.find((p) => p.provider === 'pdl');
      expect(usage).toMatchObject({
        provider_calls: pdl.counts().calls.bulk,
        credits: pdl.counts().creditsSpent,
      });
      expect(Object.values(pdl.counts().billedWebsites).every((n) => n === 1)).toBe(true);
    } finally {
      pdl.update({ itemFaultShare: 0 });
    }
  });
});
