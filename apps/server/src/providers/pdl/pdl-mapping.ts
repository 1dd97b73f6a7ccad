/**
 * People Data Labs answers → our types. Pure: no I/O, no ProviderError (the client adds the HTTP
 * context). Field names and forms: docs/providers/pdl-api.md.
 *
 * Lenient per field (a field of the wrong type becomes null: one odd field must not cost the
 * other 99 companies of a call), strict on the envelope: the bulk answer must be an array with one
 * item per request, each with a numeric `status`; without that we cannot tell which company an
 * item belongs to.
 */
import { z } from 'zod';
import type { Firmographics } from '../provider';

const lenientString = z.string().nullish().catch(null);
const lenientNumber = z.number().nullish().catch(null);
const lenientStrings = z
  .array(z.unknown())
  .nullish()
  .catch(null)
  .transform((list) => (list ?? []).filter((v): v is string => typeof v === 'string' && v.trim() !== ''));

export const PdlCompanySchema = z.looseObject({
  id: lenientString,
  name: lenientString,
  display_name: lenientString,
  website: lenientString,
  size: lenientString,
  employee_count: lenientNumber,
  founded: lenientNumber,
  industry: lenientString,
  industry_v2: lenientString,
  headline: lenientString,
  summary: lenientString,
  location: z
    .looseObject({ locality: lenientString, region: lenientString, country: lenientString })
    .nullish()
    .catch(null),
  linkedin_url: lenientString,
  twitter_url: lenientString,
  facebook_url: lenientString,
  tags: lenientStrings,
  naics: z.array(z.unknown()).nullish().catch(null),
  sic: z.array(z.unknown()).nullish().catch(null),
  type: lenientString,
  ticker: lenientString,
  mic_exchange: lenientString,
  inferred_revenue: lenientString,
  total_funding_raised: lenientNumber,
  latest_funding_stage: lenientString,
  alternative_domains: lenientStrings,
});
export type PdlCompany = z.infer<typeof PdlCompanySchema>;

const BulkItemSchema = z.looseObject({
  status: z.number().int(),
  likelihood: lenientNumber,
  data: z.unknown().optional(),
  error: z.looseObject({ type: lenientString, message: lenientString }).nullish().catch(null),
  metadata: z.unknown().optional(),
});
export type PdlBulkItem = z.infer<typeof BulkItemSchema>;

/** What PDL knows of a company beyond our Firmographics. */
export type PdlExtra = {
  employeeCount: number | null;
  foundedYear: number | null;
  linkedinUrl: string | null;
  twitterUrl: string | null;
  facebookUrl: string | null;
  tags: string[];
  naics: { code: string; industry: string | null }[];
  sic: { code: string; industry: string | null }[];
  /** `private`, `public`, `nonprofit`, `educational`, `government`, `public_subsidiary`. */
  type: string | null;
  ticker: string | null;
  exchange: string | null;
  headline: string | null;
  industryV2: string | null;
  totalFundingRaised: number | null;
  latestFundingStage: string | null;
  alternativeDomains: string[];
};

export type PdlMatch = {
  status: 'matched';
  /** PDL's 1–10 score; null when the item carried none we can read. */
  likelihood: number | null;
  pdlId: string | null;
  firmographics: Firmographics;
  extra: PdlExtra;
};

type ItemErrorDetail = { type: string; message: string };

/** One item of a bulk answer, before it is tied to its domain. */
export type PdlItemOutcome =
  | PdlMatch
  | { status: 'not_found' }
  /** 402 for this item: the account ran out of credits during the call (the item was not billed). */
  | { status: 'out_of_credits'; error: ItemErrorDetail }
  /** 429 or 5xx for this item: PDL could not answer it now; asking again later may. */
  | { status: 'retry'; itemStatus: number; error: ItemErrorDetail }
  /** Any other status (400…): this request will not succeed as sent. */
  | { status: 'error'; error: ItemErrorDetail };

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function text(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}

/** PDL writes URLs without a scheme (`linkedin.com/company/google`); the other providers' have one. */
export function withScheme(value: string | null | undefined): string | null {
  const url = text(value);
  if (url === null) return null;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
}

/** `$1B-$10B` → `1B-10B`, `$10B+` → `10B+`: the revenue bands the other providers write. */
export function revenueRange(value: string | null | undefined): string {
  const band = text(value);
  return band === null ? 'Unknown' : band.replaceAll('$', '');
}

function codes(list: unknown[] | null | undefined, codeKey: string, industryKeys: string[]) {
  return (list ?? []).flatMap((entry) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const record = entry as Record<string, unknown>;
    const code = record[codeKey];
    if (typeof code !== 'string' || code.trim() === '') return [];
    const industry = industryKeys.map((key) => record[key]).find((v) => typeof v === 'string' && v !== '');
    return [{ code: code.trim(), industry: typeof industry === 'string' ? industry : null }];
  });
}

export function toFirmographics(company: PdlCompany): Firmographics {
  return {
    // `name` is lowercased like every PDL value; `display_name` keeps the company's own casing.
    name: text(company.display_name) ?? text(company.name),
    industry: text(company.industry) ?? text(company.industry_v2),
    companySize: text(company.size),
    revenueRange: revenueRange(company.inferred_revenue),
    country: text(company.location?.country),
    region: text(company.location?.region),
    city: text(company.location?.locality),
    website: withScheme(company.website),
    linkedinUrl: withScheme(company.linkedin_url),
    description: text(company.summary) ?? text(company.headline),
  };
}

export function toExtra(company: PdlCompany): PdlExtra {
  return {
    employeeCount: company.employee_count ?? null,
    foundedYear: company.founded ?? null,
    linkedinUrl: withScheme(company.linkedin_url),
    twitterUrl: withScheme(company.twitter_url),
    facebookUrl: withScheme(company.facebook_url),
    tags: company.tags,
    naics: codes(company.naics, 'naics_code', ['naics_industry', 'national_industry', 'sector']),
    sic: codes(company.sic, 'sic_code', ['industry_sector', 'major_group']),
    type: text(company.type),
    ticker: text(company.ticker),
    exchange: text(company.mic_exchange),
    headline: text(company.headline),
    industryV2: text(company.industry_v2),
    totalFundingRaised: company.total_funding_raised ?? null,
    latestFundingStage: text(company.latest_funding_stage),
    alternativeDomains: company.alternative_domains,
  };
}

/**
 * PDL's likelihood (an integer 1–10) as a 0–1 confidence. Anything outside that range is not a
 * likelihood PDL documents, so it gives no confidence rather than a made-up one.
 */
export function matchConfidence(likelihood: number | null | undefined): number | null {
  if (typeof likelihood !== 'number' || !Number.isFinite(likelihood)) return null;
  if (likelihood < 1 || likelihood > 10) return null;
  return likelihood / 10;
}

function itemOutcome(item: PdlBulkItem): PdlItemOutcome {
  if (item.status === 200) {
    // The record sits at the item's top level like the single endpoint's; read `data` if it is there.
    const source = typeof item.data === 'object' && item.data !== null ? item.data : item;
    const company = PdlCompanySchema.parse(source);
    const likelihood = item.likelihood ?? null;
    return {
      status: 'matched',
      likelihood,
      pdlId: text(company.id),
      firmographics: { ...toFirmographics(company), matchConfidence: matchConfidence(likelihood) },
      extra: toExtra(company),
    };
  }
  if (item.status === 404) return { status: 'not_found' };
  const error = {
    type: text(item.error?.type) ?? `status_${item.status}`,
    message: text(item.error?.message) ?? `PDL answered this item with status ${item.status}`,
  };
  // Each item is answered as a single enrichment would be (bulk), so its status means what the
  // call's would: 402 no credits left, 429 and 5xx a retry later.
  if (item.status === 402) return { status: 'out_of_credits', error };
  if (item.status === 429 || item.status >= 500) return { status: 'retry', itemStatus: item.status, error };
  return { status: 'error', error };
}

function metadataDomain(metadata: unknown): string | null {
  if (typeof metadata !== 'object' || metadata === null) return null;
  const domain = (metadata as Record<string, unknown>).domain;
  return typeof domain === 'string' ? domain : null;
}

/**
 * One outcome per requested domain, in request order. PDL answers in request order; each request
 * carries its domain as `metadata`, which PDL echoes, so an answer out of order is joined by that
 * echo instead of trusted by position.
 */
export function parseBulkResponse(body: unknown, domains: readonly string[]): Parsed<PdlItemOutcome[]> {
  const list = Array.isArray(body)
    ? body
    : typeof body === 'object' && body !== null && Array.isArray((body as { items?: unknown }).items)
      ? (body as { items: unknown[] }).items
      : null;
  if (list === null) return { ok: false, problem: 'the bulk answer is not an array of items' };
  if (list.length !== domains.length) {
    return { ok: false, problem: `the bulk answer has ${list.length} items for ${domains.length} requests` };
  }
  const items: PdlBulkItem[] = [];
  for (const [index, raw] of list.entries()) {
    const parsed = BulkItemSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, problem: `item ${index} has no numeric status` };
    items.push(parsed.data);
  }
  const inOrder = items.every((item, index) => {
    const echoed = metadataDomain(item.metadata);
    return echoed === null || echoed === domains[index];
  });
  if (inOrder) return { ok: true, value: items.map(itemOutcome) };
  const byDomain = new Map(items.map((item) => [metadataDomain(item.metadata), item]));
  const outcomes: PdlItemOutcome[] = [];
  for (const domain of domains) {
    const item = byDomain.get(domain);
    if (!item) return { ok: false, problem: `no item of the bulk answer echoes the domain ${domain}` };
    outcomes.push(itemOutcome(item));
  }
  return { ok: true, value: outcomes };
}

/** Anything below this cannot be a unix time in seconds, so it is read as "seconds from now". */
const MIN_UNIX_SECONDS = 1_000_000_000;
const MIN_UNIX_MS = 1_000_000_000_000;

/**
 * A per-window header (`x-ratelimit-limit`, `x-ratelimit-remaining`): documented as
 * `{"minute": 1200, "day": None, …}`, sent with single quotes as a Python dict prints; a bare
 * number is read too. The minute window is the one a caller paces by.
 */
export function readWindowHeader(value: string | null): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const match = /["']?minute["']?\s*:\s*(\d+)/.exec(trimmed);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/**
 * `x-ratelimit-reset`: documented as a UTC timestamp (`2022-02-23T20:19:55Z`); unix seconds, unix
 * milliseconds and seconds-from-now are read too.
 */
export function readResetHeader(value: string | null, nowMs: number): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const n = Number(trimmed);
    if (n >= MIN_UNIX_MS) return Math.round(n);
    return n >= MIN_UNIX_SECONDS ? Math.round(n * 1000) : nowMs + Math.round(n * 1000);
  }
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : at;
}

export type PdlRateLimit = { limit: number | null; remaining: number | null; resetAtMs: number | null };

/** The minute window's readings; null when PDL sent none of them. */
export function parseRateLimitHeaders(headers: Headers, nowMs: number): PdlRateLimit | null {
  const reading = {
    limit: readWindowHeader(headers.get('x-ratelimit-limit')),
    remaining: readWindowHeader(headers.get('x-ratelimit-remaining')),
    resetAtMs: readResetHeader(headers.get('x-ratelimit-reset'), nowMs),
  };
  return reading.limit === null && reading.remaining === null && reading.resetAtMs === null ? null : reading;
}

export function headerCount(headers: Headers, name: string): number | null {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return null;
  const value = Number(raw);
  return Number.isFinite(value) ? value : null;
}
