/**
 * SYNTHETIC DATA behind the People Data Labs emulator. Nothing here comes from People Data Labs.
 *
 * Records follow PDL's company schema (lowercased values, `size` bands, `location` object,
 * `linkedin_url` without a scheme, an integer `likelihood` from 1 to 10), and are a pure function of
 * the registrable domain, so a waterfall over both emulators sees one company per domain:
 * - Where the Explorium sandbox knows the domain (its built-in table or its hash-derived
 *   companies), the PDL record carries the same name, industry, size, headquarters and
 *   description, in PDL's field names.
 * - Elsewhere (domains the Explorium sandbox misses, or knows without data) PDL still answers for
 *   most of them, from its own hash: a waterfall has something for the second provider to fill.
 * - Not found (PDL's 404): the reserved TLDs `.invalid` and `.example`, any domain starting with
 *   `nomatch` or `pdl-nomatch`, and a deterministic ~10 % of the rest.
 * - Likelihood: 8 to 10 for the built-in companies, 2 to 10 for the others (mostly 8 to 10), so a
 *   `min_likelihood` threshold turns some matches into 404s.
 */
import { createHash } from 'node:crypto';
import { lookupDomain, normalizeDomain, type SandboxFirmographics } from './sandbox-data';
import { hashReader, pick } from './synthetic-hash';

/** A company record as PDL's Company Enrichment API returns it (the fields the emulator fills). */
export type PdlCompanyRecord = {
  id: string;
  name: string;
  display_name: string;
  website: string;
  size: string;
  employee_count: number;
  founded: number;
  industry: string;
  industry_v2: string;
  headline: string;
  summary: string;
  location: {
    name: string;
    locality: string;
    region: string;
    country: string;
    continent: string | null;
  };
  linkedin_id: string;
  linkedin_url: string;
  linkedin_slug: string;
  twitter_url: string | null;
  facebook_url: string | null;
  profiles: string[];
  tags: string[];
  naics: { naics_code: string; sector: string | null; naics_industry: string }[];
  sic: { sic_code: string; industry_sector: string }[];
  type: 'private' | 'public';
  ticker: string | null;
  inferred_revenue: string | null;
  alternative_domains: string[];
};

export type PdlWebsiteLookup =
  | { kind: 'match'; record: PdlCompanyRecord; likelihood: number }
  | { kind: 'not_found' }
  /** Not a website at all: the emulator answers such an item 400. */
  | { kind: 'invalid'; message: string };

export const PDL_NOT_FOUND_PREFIXES = ['nomatch', 'pdl-nomatch'] as const;
const RESERVED_TLDS = ['invalid', 'example'];
const PDL_MISS_SHARE_PERCENT = 10;

const EMPLOYEE_COUNT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  '1-10': [1, 10],
  '11-50': [11, 50],
  '51-200': [51, 200],
  '201-500': [201, 500],
  '501-1000': [501, 1000],
  '1001-5000': [1001, 5000],
  '5001-10000': [5001, 10000],
  '10001+': [10001, 150000],
};

/** The Explorium sandbox's revenue bands placed in PDL's `inferred_revenue` enum. */
const REVENUE_TO_PDL: Readonly<Record<string, string>> = {
  '0-500K': '$0-$1M',
  '500K-1M': '$0-$1M',
  '1M-5M': '$1M-$10M',
  '5M-10M': '$1M-$10M',
  '10M-25M': '$10M-$25M',
  '25M-75M': '$25M-$50M',
  '75M-200M': '$100M-$250M',
  '200M-500M': '$250M-$500M',
  '500M-1B': '$500M-$1B',
  '1B-10B': '$1B-$10B',
  '10B-100B': '$10B+',
  '100B-1T': '$10B+',
};

const CONTINENTS: Readonly<Record<string, string>> = {
  'united states': 'north america',
  canada: 'north america',
  mexico: 'north america',
  brazil: 'south america',
  australia: 'oceania',
  india: 'asia',
  singapore: 'asia',
  japan: 'asia',
  israel: 'asia',
  china: 'asia',
};

/** For domains the Explorium sandbox has no data for: [industry, NAICS code, NAICS industry]. */
const OWN_INDUSTRIES: readonly (readonly [string, string, string])[] = [
  ['computer software', '511210', 'software publishers'],
  ['information technology and services', '541512', 'computer systems design services'],
  ['marketing and advertising', '541810', 'advertising agencies'],
  ['management consulting', '541611', 'administrative management consulting services'],
  ['financial services', '523999', 'miscellaneous financial investment activities'],
  ['construction', '236220', 'commercial and institutional building construction'],
];
const OWN_LOCATIONS: readonly (readonly [string, string, string])[] = [
  ['united states', 'california', 'san francisco'],
  ['united states', 'new york', 'new york'],
  ['united kingdom', 'england', 'london'],
  ['germany', 'berlin', 'berlin'],
  ['canada', 'ontario', 'toronto'],
];
const OWN_SIZES = ['1-10', '11-50', '11-50', '51-200', '201-500'] as const;
const TAG_POOL = ['b2b', 'saas', 'enterprise', 'analytics', 'cloud', 'marketplace', 'fintech', 'ai'];
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 28 characters from [A-Za-z0-9], like PDL's company ids, stable for a domain. */
function pdlIdFor(registrable: string): string {
  const bytes = createHash('sha256').update(`pdl-emulator-id:${registrable}`).digest();
  return Array.from(bytes.subarray(0, 28), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

function titleCase(words: string): string {
  return words
    .split(/[\s_-]+/)
    .filter((word) => word !== '')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

type Basis = {
  displayName: string;
  industry: string;
  naics: { code: string; industry: string };
  size: string;
  country: string;
  region: string;
  city: string;
  description: string | null;
  slug: string;
  revenue: string | null;
  builtin: boolean;
};

function fromSandbox(data: SandboxFirmographics, builtin: boolean): Basis {
  const slug = data.linkedin_profile.replace(/\/+$/, '').split('/').pop() ?? data.business_id;
  return {
    displayName: data.name,
    industry: (data.linkedin_industry_category ?? data.naics_description).toLowerCase(),
    naics: { code: data.naics, industry: data.naics_description.toLowerCase() },
    size: data.number_of_employees_range,
    country: data.country_name,
    region: data.region_name,
    city: data.city_name,
    description: data.business_description,
    slug,
    revenue: data.yearly_revenue_range ? (REVENUE_TO_PDL[data.yearly_revenue_range] ?? null) : null,
    builtin,
  };
}

function ownBasis(registrable: string, next: (modulo: number) => number): Basis {
  const label = registrable.split('.')[0] ?? registrable;
  const [industry, naicsCode, naicsIndustry] = pick(OWN_INDUSTRIES, next(OWN_INDUSTRIES.length));
  const [country, region, city] = pick(OWN_LOCATIONS, next(OWN_LOCATIONS.length));
  return {
    displayName: titleCase(label),
    industry,
    naics: { code: naicsCode, industry: naicsIndustry },
    size: pick(OWN_SIZES, next(OWN_SIZES.length)),
    country,
    region,
    city,
    description: null,
    slug: label.replace(/[^a-z0-9-]/g, '-'),
    revenue: null,
    builtin: false,
  };
}

function buildRecord(registrable: string, basis: Basis, next: (modulo: number) => number): PdlCompanyRecord {
  const [low, high] = EMPLOYEE_COUNT_RANGES[basis.size] ?? [1, 10];
  const employeeCount = low + next(high - low + 1);
  const isPublic = basis.builtin && basis.size === '10001+';
  const hasTwitter = next(100) < 70;
  const hasFacebook = next(100) < 50;
  const linkedinUrl = `linkedin.com/company/${basis.slug}`;
  const twitterUrl = hasTwitter ? `twitter.com/${basis.slug.replaceAll('-', '')}` : null;
  const facebookUrl = hasFacebook ? `facebook.com/${basis.slug}` : null;
  const name = basis.displayName.toLowerCase();
  return {
    id: pdlIdFor(registrable),
    name,
    display_name: basis.displayName,
    website: registrable,
    size: basis.size,
    employee_count: employeeCount,
    founded: 1950 + next(73),
    industry: basis.industry,
    industry_v2: basis.industry,
    headline: `${basis.industry} company in ${basis.city}`,
    summary:
      basis.description?.toLowerCase() ?? `${name} is a ${basis.industry} company based in ${basis.city}.`,
    location: {
      name: `${basis.city}, ${basis.region}, ${basis.country}`,
      locality: basis.city,
      region: basis.region,
      country: basis.country,
      continent: CONTINENTS[basis.country] ?? (basis.country === '' ? null : 'europe'),
    },
    linkedin_id: String(100_000 + next(60_000)),
    linkedin_url: linkedinUrl,
    linkedin_slug: basis.slug,
    twitter_url: twitterUrl,
    facebook_url: facebookUrl,
    profiles: [linkedinUrl, twitterUrl, facebookUrl].filter((p): p is string => p !== null),
    tags: [pick(TAG_POOL, next(TAG_POOL.length)), pick(TAG_POOL, next(TAG_POOL.length))].filter(
      (tag, index, all) => all.indexOf(tag) === index,
    ),
    naics: [{ naics_code: basis.naics.code, sector: null, naics_industry: basis.naics.industry }],
    sic: [],
    type: isPublic ? 'public' : 'private',
    ticker: isPublic ? basis.slug.replaceAll('-', '').slice(0, 4) : null,
    inferred_revenue: basis.revenue,
    alternative_domains: [],
  };
}

/** A website is a strong input, so most matches are confident: 65 % 8–10, 25 % 5–7, 10 % 2–4. */
function syntheticLikelihood(next: (modulo: number) => number): number {
  const roll = next(100);
  if (roll < 10) return 2 + next(3);
  return roll < 35 ? 5 + next(3) : 8 + next(3);
}

/**
 * What PDL's emulator answers for a `website` input. Pure: the same input gives the same record and
 * likelihood in every process.
 */
export function lookupPdlWebsite(website: string): PdlWebsiteLookup {
  const normalized = normalizeDomain(website);
  if (!normalized.ok) return { kind: 'invalid', message: normalized.message };
  const { registrable, hostname } = normalized;
  const tld = hostname.slice(hostname.lastIndexOf('.') + 1);
  if (RESERVED_TLDS.includes(tld)) return { kind: 'not_found' };
  if (PDL_NOT_FOUND_PREFIXES.some((prefix) => registrable.startsWith(prefix))) return { kind: 'not_found' };
  if (hashReader(`pdl-emulator:miss:${registrable}`)(100) < PDL_MISS_SHARE_PERCENT)
    return { kind: 'not_found' };
  const next = hashReader(`pdl-emulator:${registrable}`);
  const sandbox = lookupDomain(registrable);
  const basis =
    sandbox.kind === 'match' && sandbox.business.data !== null
      ? fromSandbox(sandbox.business.data, !sandbox.business.synthetic)
      : ownBasis(registrable, next);
  const likelihood = basis.builtin ? 8 + next(3) : syntheticLikelihood(next);
  return { kind: 'match', record: buildRecord(registrable, basis, next), likelihood };
}
