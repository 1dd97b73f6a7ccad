/**
 * The provider batcher's calls: one bulk call for what was asked at about the same time, and,
 * with organizations kept apart, never one item shared by two organizations.
 */
import { describe, expect, it } from 'vitest';
import {
  type EnrichmentProvider,
  FIRMOGRAPHIC_FIELDS,
  type Firmographics,
  type MatchResult,
} from '../providers/provider';
import { createProviderBatcher, type ProviderCallReport } from './provider-batcher';

const FIRMO: Firmographics = {
  name: 'Stripe',
  industry: null,
  companySize: null,
  revenueRange: 'Unknown',
  country: null,
  region: null,
  city: null,
  website: null,
  linkedinUrl: null,
  description: null,
};

function countingProvider() {
  const calls: { endpoint: string; keys: string[] }[] = [];
  const provider: EnrichmentProvider = {
    name: 'sandbox',
    maxBatchSize: 50,
    matching: 'call',
    creditsPerRecord: 1,
    fills: FIRMOGRAPHIC_FIELDS,
    async matchBusinesses(domains) {
      calls.push({ endpoint: 'match', keys: [...domains] });
      return domains.map((domain) => ({ domain, businessId: `id-${domain}` }));
    },
    async enrichFirmographics(ids) {
      calls.push({ endpoint: 'bulk_enrich', keys: [...ids] });
      return new Map(ids.map((id) => [id, FIRMO]));
    },
  };
  return { provider, calls };
}

const A = { orgId: 'org-a', jobId: 'job-a' };
const B = { orgId: 'org-b', jobId: 'job-b' };

describe('provider batcher', () => {
  it('shares one item between organizations asking for the same domain when lookups are shared', async () => {
    const { provider, calls } = countingProvider();
    const batcher = createProviderBatcher(provider, { windowMs: 5 });
    await Promise.all([
      batcher.match('stripe.com', A),
      batcher.match('stripe.com', B),
      batcher.match('x.com', A),
    ]);
    expect(calls).toEqual([{ endpoint: 'match', keys: ['stripe.com', 'x.com'] }]);
  });

  it('keeps organizations apart: each is billed for its own item, in a call of its own', async () => {
    const { provider, calls } = countingProvider();
    const reports: ProviderCallReport[] = [];
    const batcher = createProviderBatcher(provider, {
      windowMs: 5,
      separateOrganizations: true,
      onCall: async (r) => {
        reports.push(r);
      },
    });
    const matched = await Promise.all([
      batcher.match('stripe.com', A),
      batcher.match('stripe.com', B),
      batcher.match('x.com', A),
    ]);
    expect(matched.map((m) => m.businessId)).toEqual(['id-stripe.com', 'id-stripe.com', 'id-x.com']);
    expect(calls).toEqual([
      { endpoint: 'match', keys: ['stripe.com', 'x.com'] },
      { endpoint: 'match', keys: ['stripe.com'] },
    ]);
    const enriched = await Promise.all([
      batcher.enrich('id-stripe.com', A),
      batcher.enrich('id-stripe.com', B),
    ]);
    expect(enriched).toEqual([FIRMO, FIRMO]);
    const enrichReports = reports.filter((r) => r.endpoint === 'bulk_enrich');
    expect(enrichReports.map((r) => r.perJob.map((j) => [j.orgId, j.credits]))).toEqual([
      [['org-a', 1]],
      [['org-b', 1]],
    ]);
  });

  it('keeps a local match out of the ledger, and a free provider out of the budget and the bill', async () => {
    const calls: string[] = [];
    const free: EnrichmentProvider = {
      name: 'web',
      maxBatchSize: 20,
      matching: 'local',
      creditsPerRecord: 0,
      fills: FIRMOGRAPHIC_FIELDS,
      async matchBusinesses(domains) {
        calls.push('match');
        return domains.map(
          (domain): MatchResult =>
            domain === 'gone.example' ? { domain, businessId: null } : { domain, businessId: domain },
        );
      },
      async enrichFirmographics(ids) {
        calls.push('bulk_enrich');
        return new Map(ids.map((id) => [id, FIRMO]));
      },
    };
    const reports: ProviderCallReport[] = [];
    const reserved: number[] = [];
    const batcher = createProviderBatcher(free, {
      windowMs: 5,
      onCall: async (r) => {
        reports.push(r);
      },
      // A budget that would refuse everything: a free provider never asks it.
      budget: {
        async reserve(requests) {
          reserved.push(requests.length);
          return requests.map((r) => ({ jobId: r.jobId, granted: 0, heldByOthers: 0, reservationId: null }));
        },
        settled() {},
        async release() {},
      },
    });
    expect(batcher.matching).toBe('local');
    const [found, gone] = await Promise.all([
      batcher.match('acme.example', A),
      batcher.match('gone.example', A),
    ]);
    expect(found.businessId).toBe('acme.example');
    expect(gone.businessId).toBeNull();
    expect(await batcher.enrich('acme.example', A)).toEqual(FIRMO);
    expect(calls).toEqual(['match', 'bulk_enrich']);
    expect(reserved).toEqual([]);
    expect(reports.map((r) => [r.endpoint, r.perJob.map((j) => [j.items, j.credits])])).toEqual([
      ['bulk_enrich', [[1, 0]]],
    ]);
  });
});
