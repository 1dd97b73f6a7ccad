/**
 * The field policy of a provider waterfall: the first provider that returns a value for a field
 * fills it, a later provider is asked only while a field it can fill is still empty, and every
 * filled field keeps where it came from. Pure: enrich-company.ts applies it step by step.
 */
import type { EnrichedField, FieldProvenance, ProviderName } from '@gtm-enrich/contracts';
import type { CompanySignals, Firmographics } from '../providers/provider';

/** A field of Firmographics under its API name, and when it counts as empty. */
type FieldAccess = {
  get(f: Firmographics): unknown;
  set(f: Firmographics, value: unknown): void;
};

const column = <K extends keyof Firmographics>(key: K): FieldAccess => ({
  get: (f) => f[key],
  set: (f, value) => {
    (f as Record<K, unknown>)[key] = value;
  },
});

const signal = <K extends keyof CompanySignals>(key: K): FieldAccess => ({
  get: (f) => f.signals?.[key] ?? null,
  set: (f, value) => {
    f.signals ??= emptySignals();
    (f.signals as Record<K, unknown>)[key] = value;
  },
});

const FIELDS: Record<EnrichedField, FieldAccess> = {
  name: column('name'),
  industry: column('industry'),
  company_size: column('companySize'),
  revenue_range: column('revenueRange'),
  country: column('country'),
  region: column('region'),
  city: column('city'),
  website: column('website'),
  linkedin_url: column('linkedinUrl'),
  description: column('description'),
  email_provider: signal('emailProvider'),
  technologies: signal('technologies'),
  logo_url: signal('logoUrl'),
  founded_year: signal('foundedYear'),
  employee_count: signal('employeeCount'),
  social_profiles: signal('socialProfiles'),
};

/** "Unknown" revenue, no technologies and no profiles are no answer: a later provider may fill them. */
function hasValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === 'Unknown') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

function emptySignals(): CompanySignals {
  return {
    emailProvider: null,
    technologies: [],
    logoUrl: null,
    foundedYear: null,
    employeeCount: null,
    socialProfiles: {},
  };
}

/** Per filled field, where it came from: how a company keeps it (the API groups it by answer). */
export type FieldProvenances = Partial<Record<EnrichedField, FieldProvenance>>;

/** What a company has gathered so far from the providers of its waterfall. */
export type WaterfallState = {
  firmographics: Firmographics;
  provenance: FieldProvenances;
  /** The id at the first provider that matched it. */
  businessId: string | null;
  /** The confidence of the first provider whose data it shows, when that provider gives one. */
  matchConfidence: number | null;
  /** Some provider found the company (matched it or returned data for it). */
  found: boolean;
  /** Every step so far was answered from the enrichment cache (no provider call). */
  allFromCache: boolean;
  /** The latest time a provider produced what the company holds. */
  fetchedAt: Date | null;
  /** The failure of a provider that gave up on it, kept for a company no provider finds. */
  error: { code: string; message: string } | null;
};

/** Whether a provider that fills `fills` has anything left to fill. */
export function wantsProvider(state: WaterfallState, fills: readonly EnrichedField[]): boolean {
  return fills.some((field) => state.provenance[field] === undefined);
}

export type StepAnswer =
  | {
      kind: 'found';
      provider: ProviderName;
      businessId: string;
      firmographics: Firmographics | null;
      fetchedAt: Date;
      source: 'provider' | 'cache';
    }
  | { kind: 'not_found'; provider: ProviderName; fetchedAt: Date; source: 'provider' | 'cache' }
  | { kind: 'failed'; provider: ProviderName; error: { code: string; message: string } };

/** The state after one provider's answer: its values fill only the fields still empty. */
export function applyAnswer(state: WaterfallState, answer: StepAnswer): WaterfallState {
  if (answer.kind === 'failed') return { ...state, allFromCache: false, error: answer.error };
  const next: WaterfallState = {
    ...state,
    firmographics: structuredClone(state.firmographics),
    provenance: { ...state.provenance },
    allFromCache: state.allFromCache && answer.source === 'cache',
    fetchedAt: state.fetchedAt && state.fetchedAt > answer.fetchedAt ? state.fetchedAt : answer.fetchedAt,
  };
  if (answer.kind === 'not_found') return next;
  const given = answer.firmographics;
  const confidence = given?.matchConfidence ?? null;
  if (!next.found) {
    next.found = true;
    next.businessId = answer.businessId;
  }
  if (!given) return next;
  // The confidence is that of the first provider whose data the company shows.
  const firstData = Object.keys(next.provenance).length === 0;
  for (const [field, access] of Object.entries(FIELDS) as [EnrichedField, FieldAccess][]) {
    if (next.provenance[field] !== undefined) continue;
    const value = access.get(given);
    if (!hasValue(value)) continue;
    access.set(next.firmographics, structuredClone(value));
    next.provenance[field] = {
      provider: answer.provider,
      fetched_at: answer.fetchedAt.toISOString(),
      confidence,
      source: answer.source,
    };
  }
  if (firstData && Object.keys(next.provenance).length > 0) next.matchConfidence = confidence;
  return next;
}

/** The state a company's stored columns describe (a company resumed at a later step). */
export function stateFromStored(stored: {
  firmographics: Firmographics;
  provenance: FieldProvenances | null;
  businessId: string | null;
  matchConfidence: number | null;
  source: 'provider' | 'cache' | null;
  fetchedAt: Date | null;
  failedStepError: { code: string; message: string } | null;
}): WaterfallState {
  return {
    firmographics: stored.firmographics,
    provenance: stored.provenance ?? {},
    businessId: stored.businessId,
    matchConfidence: stored.matchConfidence,
    found: stored.businessId !== null,
    allFromCache: stored.source !== 'provider',
    fetchedAt: stored.fetchedAt,
    error: stored.failedStepError,
  };
}
