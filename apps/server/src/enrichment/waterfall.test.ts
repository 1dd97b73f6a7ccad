import { describe, expect, it } from 'vitest';
import type { Firmographics } from '../providers/provider';
import { applyAnswer, stateFromStored, type WaterfallState, wantsProvider } from './waterfall';

const empty = (): Firmographics => ({
  name: null,
  industry: null,
  companySize: null,
  revenueRange: 'Unknown',
  country: null,
  region: null,
  city: null,
  website: null,
  linkedinUrl: null,
  description: null,
  signals: null,
});

const start = (): WaterfallState =>
  stateFromStored({
    firmographics: empty(),
    provenance: null,
    businessId: null,
    matchConfidence: null,
    source: null,
    fetchedAt: null,
    failedStepError: null,
  });

const T1 = new Date('2026-12-01T10:00:00Z');
const T2 = new Date('2026-12-02T10:00:00Z');

describe('the waterfall field policy', () => {
  it('keeps the first value of each field and fills only the empty ones from a later provider', () => {
    const first = applyAnswer(start(), {
      kind: 'found',
      provider: 'explorium',
      businessId: 'b-1',
      firmographics: { ...empty(), name: 'Acme', industry: 'Software', matchConfidence: null },
      fetchedAt: T1,
      source: 'provider',
    });
    const second = applyAnswer(first, {
      kind: 'found',
      provider: 'pdl',
      businessId: 'acme.com',
      firmographics: {
        ...empty(),
        name: 'ACME Inc',
        city: 'berlin',
        revenueRange: '$1M-$10M',
        matchConfidence: 0.9,
      },
      fetchedAt: T2,
      source: 'cache',
    });
    expect(second.firmographics).toMatchObject({
      name: 'Acme',
      industry: 'Software',
      city: 'berlin',
      revenueRange: '$1M-$10M',
    });
    expect(second.provenance.name).toEqual({
      provider: 'explorium',
      fetched_at: T1.toISOString(),
      confidence: null,
      source: 'provider',
    });
    expect(second.provenance.city).toEqual({
      provider: 'pdl',
      fetched_at: T2.toISOString(),
      confidence: 0.9,
      source: 'cache',
    });
    expect(second.provenance.country).toBeUndefined();
    // The first match is the company's; the confidence is that of the first provider whose data it shows.
    expect(second).toMatchObject({ businessId: 'b-1', matchConfidence: null, found: true, fetchedAt: T2 });
    expect(second.allFromCache).toBe(false);
    // The state answered to is left as it was.
    expect(first.firmographics.city).toBeNull();
    expect(first.provenance.city).toBeUndefined();
  });

  it('counts "Unknown" revenue, no technologies and no profiles as empty', () => {
    const noAnswer = applyAnswer(start(), {
      kind: 'found',
      provider: 'web',
      businessId: 'acme.com',
      firmographics: {
        ...empty(),
        signals: {
          emailProvider: 'Google Workspace',
          technologies: [],
          logoUrl: null,
          foundedYear: null,
          employeeCount: null,
          socialProfiles: {},
        },
      },
      fetchedAt: T1,
      source: 'provider',
    });
    expect(Object.keys(noAnswer.provenance)).toEqual(['email_provider']);
    expect(wantsProvider(noAnswer, ['revenue_range'])).toBe(true);
    expect(wantsProvider(noAnswer, ['email_provider'])).toBe(false);
    expect(wantsProvider(noAnswer, ['email_provider', 'technologies', 'social_profiles'])).toBe(true);
    const filled = applyAnswer(noAnswer, {
      kind: 'found',
      provider: 'pdl',
      businessId: 'acme.com',
      firmographics: {
        ...empty(),
        revenueRange: '$10M-$50M',
        signals: {
          emailProvider: 'Microsoft 365',
          technologies: [{ name: 'HubSpot', category: 'marketing' }],
          logoUrl: null,
          foundedYear: 2001,
          employeeCount: null,
          socialProfiles: { linkedin: 'https://linkedin.com/company/acme' },
        },
        matchConfidence: 0.7,
      },
      fetchedAt: T2,
      source: 'provider',
    });
    expect(filled.firmographics.revenueRange).toBe('$10M-$50M');
    expect(filled.firmographics.signals).toMatchObject({
      emailProvider: 'Google Workspace',
      technologies: [{ name: 'HubSpot', category: 'marketing' }],
      foundedYear: 2001,
      socialProfiles: { linkedin: 'https://linkedin.com/company/acme' },
    });
    expect(filled.provenance.email_provider?.provider).toBe('web');
    expect(filled.provenance.technologies?.provider).toBe('pdl');
    // The web provider gave data first (and no confidence): the company shows its data first.
    expect(filled.matchConfidence).toBeNull();
  });

  it('takes the confidence of the first provider with data, not of one that only matched', () => {
    const matchedOnly = applyAnswer(start(), {
      kind: 'found',
      provider: 'explorium',
      businessId: 'b-2',
      firmographics: null,
      fetchedAt: T1,
      source: 'provider',
    });
    expect(matchedOnly).toMatchObject({ found: true, businessId: 'b-2', matchConfidence: null });
    expect(matchedOnly.provenance).toEqual({});
    const withData = applyAnswer(matchedOnly, {
      kind: 'found',
      provider: 'pdl',
      businessId: 'acme.com',
      firmographics: { ...empty(), name: 'Acme', matchConfidence: 0.8 },
      fetchedAt: T2,
      source: 'provider',
    });
    expect(withData).toMatchObject({ businessId: 'b-2', matchConfidence: 0.8 });
  });

  it("keeps a failed step's error and a not-found step's answer without finding the company", () => {
    const failed = applyAnswer(start(), {
      kind: 'failed',
      provider: 'explorium',
      error: { code: 'PROVIDER_ERROR', message: 'gave up after 3 attempts' },
    });
    expect(failed).toMatchObject({
      found: false,
      error: { code: 'PROVIDER_ERROR' },
      allFromCache: false,
    });
    const notFound = applyAnswer(start(), {
      kind: 'not_found',
      provider: 'pdl',
      fetchedAt: T1,
      source: 'cache',
    });
    expect(notFound).toMatchObject({
      found: false,
      businessId: null,
      allFromCache: true,
      fetchedAt: T1,
      error: null,
    });
    expect(wantsProvider(notFound, ['name'])).toBe(true);
  });

  it('resumes from stored columns as the state they describe', () => {
    const resumed = stateFromStored({
      firmographics: { ...empty(), name: 'Acme' },
      provenance: {
        name: { provider: 'explorium', fetched_at: T1.toISOString(), confidence: null, source: 'cache' },
      },
      businessId: 'b-3',
      matchConfidence: null,
      source: 'cache',
      fetchedAt: T1,
      failedStepError: null,
    });
    expect(resumed).toMatchObject({ found: true, allFromCache: true });
    expect(wantsProvider(resumed, ['name'])).toBe(false);
    expect(wantsProvider(resumed, ['name', 'city'])).toBe(true);
  });
});
