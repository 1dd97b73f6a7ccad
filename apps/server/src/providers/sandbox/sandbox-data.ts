/**
 * SYNTHETIC DATA behind the Explorium sandbox emulator. Nothing here comes from Explorium.
 *
 * - Domains in the built-in table (`sandbox-companies.ts`) answer with best-effort public facts
 *   about well-known companies.
 * - Any other domain answers with plausible values derived from a hash of its registrable domain:
 *   the name is the domain label title-cased, the industry, bands and headquarters are picked
 *   from fixed lists. Some shares are deliberately imperfect so callers meet the cases real data
 *   has: ~15 % of synthetic records lack `yearly_revenue_range`, ~10 % lack
 *   `linkedin_industry_category` (so the NAICS fallback is exercised), and ~3 % of synthetic
 *   businesses match but have no firmographics at all.
 * - Domains under the reserved TLDs `.invalid` and `.example` never match (RFC 2606), and neither
 *   does any domain whose name starts with `nomatch` (`nomatch-acme.com`), so tests and demos can
 *   ask for a miss on purpose with a domain the upload accepts. A deterministic ~5 % of other
 *   synthetic domains do not match either, as real lists always have misses.
 *
 * Everything is a pure function of the normalised domain: same domain, same business id and data,
 * in every process and on every run.
 */
import { createHash } from 'node:crypto';
import { parse as parseHostname } from 'tldts';
import {
  EMPLOYEE_BANDS,
  type EmployeeBand,
  REVENUE_BANDS,
  type RevenueBand,
  SANDBOX_COMPANIES,
  SANDBOX_INDUSTRIES,
  type SandboxCompanyRow,
  type SandboxIndustryKey,
} from './sandbox-companies';
import { hashReader, pick } from './synthetic-hash';

/** A firmographics `data` object as the sandbox sends it (field names are Explorium's). */
export type SandboxFirmographics = {
  business_id: string;
  name: string;
  business_description: string;
  website: string;
  country_name: string;
  region_name: string;
  city_name: string;
  naics: string;
  naics_description: string;
  linkedin_industry_category?: string;
  linkedin_profile: string;
  number_of_employees_range: EmployeeBand;
  yearly_revenue_range?: RevenueBand;
};

export type SandboxBusiness = {
  businessId: string;
  /** Registrable domain the business was matched on, e.g. `stripe.com` for `www.stripe.com`. */
  domain: string;
  /** True when the values are invented from the domain's hash rather than taken from the table. */
  synthetic: boolean;
  /** Null: matched, but nothing known (Explorium answers such rows without `data`). */
  data: SandboxFirmographics | null;
};

export type SandboxDomainLookup =
  | { kind: 'match'; business: SandboxBusiness }
  | { kind: 'no_match' }
  /** Not a usable domain at all; Explorium reports such items as per-item errors. */
  | { kind: 'invalid'; message: string };

const RESERVED_TLDS = ['invalid', 'example'] as const;

const NO_REVENUE_SHARE_PERCENT = 15;
const NO_LINKEDIN_INDUSTRY_SHARE_PERCENT = 10;
const NO_DATA_SHARE_PERCENT = 3;
const NO_MATCH_SHARE_PERCENT = 5;
const NO_MATCH_PREFIX = 'nomatch';

/** Weights skew synthetic companies small, as most domains in a real upload are. */
const EMPLOYEE_BAND_WEIGHTS: Readonly<Record<EmployeeBand, number>> = {
  '1-10': 20,
  '11-50': 30,
  '51-200': 22,
  '201-500': 12,
  '501-1000': 7,
  '1001-5000': 6,
  '5001-10000': 2,
  '10001+': 1,
};

/** Index into REVENUE_BANDS typical for each employee band; a hash bit may add one band. */
const REVENUE_BASE_BY_EMPLOYEES: Readonly<Record<EmployeeBand, number>> = {
  '1-10': 0,
  '11-50': 2,
  '51-200': 3,
  '201-500': 5,
  '501-1000': 6,
  '1001-5000': 7,
  '5001-10000': 9,
  '10001+': 9,
};

const SYNTHETIC_INDUSTRIES: readonly SandboxIndustryKey[] = [
  'software',
  'software',
  'software',
  'it_services',
  'internet',
  'security',
  'fin_services',
  'marketing',
  'consulting',
  'ecommerce',
  'health_services',
  'education',
  'real_estate',
  'construction',
  'logistics',
  'food_mfg',
  'restaurants',
  'staffing',
  'media',
  'hospitality',
  'industrial_machinery',
  'accounting',
  'law',
  'insurance',
  'biotech',
  'medical_devices',
];

/** Real cities, written lowercase as Explorium sends locations: [country, region, city]. */
const SYNTHETIC_HEADQUARTERS: readonly (readonly [string, string, string])[] = [
  ['united states', 'california', 'san francisco'],
  ['united states', 'california', 'los angeles'],
  ['united states', 'california', 'san diego'],
  ['united states', 'california', 'san jose'],
  ['united states', 'new york', 'new york'],
  ['united states', 'texas', 'austin'],
  ['united states', 'texas', 'dallas'],
  ['united states', 'texas', 'houston'],
  ['united states', 'washington', 'seattle'],
  ['united states', 'massachusetts', 'boston'],
  ['united states', 'illinois', 'chicago'],
  ['united states', 'colorado', 'denver'],
  ['united states', 'georgia', 'atlanta'],
  ['united states', 'florida', 'miami'],
  ['united states', 'north carolina', 'raleigh'],
  ['united states', 'utah', 'salt lake city'],
  ['united states', 'oregon', 'portland'],
  ['united states', 'pennsylvania', 'philadelphia'],
  ['united states', 'minnesota', 'minneapolis'],
  ['united states', 'arizona', 'phoenix'],
  ['canada', 'ontario', 'toronto'],
  ['canada', 'british columbia', 'vancouver'],
  ['canada', 'quebec', 'montreal'],
  ['united kingdom', 'england', 'london'],
  ['united kingdom', 'england', 'manchester'],
  ['ireland', 'dublin', 'dublin'],
  ['germany', 'berlin', 'berlin'],
  ['germany', 'bavaria', 'munich'],
  ['france', 'ile-de-france', 'paris'],
  ['netherlands', 'north holland', 'amsterdam'],
  ['spain', 'madrid', 'madrid'],
  ['spain', 'catalonia', 'barcelona'],
  ['sweden', 'stockholm', 'stockholm'],
  ['denmark', 'capital region', 'copenhagen'],
  ['israel', 'tel aviv', 'tel aviv'],
  ['india', 'karnataka', 'bengaluru'],
  ['singapore', 'singapore', 'singapore'],
  ['australia', 'new south wales', 'sydney'],
  ['brazil', 'sao paulo', 'sao paulo'],
  ['japan', 'tokyo', 'tokyo'],
  ['mexico', 'mexico city', 'mexico city'],
];

const BUILTIN_BY_DOMAIN: ReadonlyMap<string, SandboxCompanyRow> = new Map(
  SANDBOX_COMPANIES.map((row) => [row[0], row]),
);
const BUILTIN_BY_NAME: ReadonlyMap<string, SandboxCompanyRow> = new Map(
  SANDBOX_COMPANIES.map((row) => [row[1].toLowerCase(), row]),
);

/** 32 lowercase hex characters, like Explorium's ids, stable for a registrable domain. */
export function businessIdForDomain(registrableDomain: string): string {
  return createHash('sha256').update(`explorium-sandbox-id:${registrableDomain}`).digest('hex').slice(0, 32);
}

/**
 * Reduces what a user typed (`https://www.Stripe.com/pricing`, `shop.acme.co.uk`) to the
 * registrable domain the sandbox keys businesses by, or says why it cannot.
 */
export function normalizeDomain(
  input: string,
): { ok: true; hostname: string; registrable: string } | { ok: false; message: string } {
  const trimmed = input.trim();
  if (trimmed === '') return { ok: false, message: 'Domain is empty' };
  let hostname: string;
  try {
    hostname = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`).hostname;
  } catch {
    return { ok: false, message: `Not a valid domain: ${JSON.stringify(input)}` };
  }
  hostname = hostname.replace(/\.$/, '').replace(/^www\./, '');
  const parsed = parseHostname(hostname);
  if (parsed.isIp || !hostname.includes('.') || hostname.split('.').some((label) => label === '')) {
    return { ok: false, message: `Not a valid domain: ${JSON.stringify(input)}` };
  }
  return { ok: true, hostname, registrable: parsed.domain ?? hostname };
}

function isReservedHostname(hostname: string): boolean {
  const tld = hostname.slice(hostname.lastIndexOf('.') + 1);
  return RESERVED_TLDS.some((reserved) => reserved === tld);
}

function titleCase(words: string): string {
  return words
    .split(/[\s_-]+/)
    .filter((word) => word !== '')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

function linkedinUrl(slug: string): string {
  return `https://www.linkedin.com/company/${slug}`;
}

function fromBuiltin(row: SandboxCompanyRow): SandboxBusiness {
  const [domain, name, industryKey, employees, revenue, country, region, city, slug, description] = row;
  const [linkedinIndustry, naics, naicsDescription] = SANDBOX_INDUSTRIES[industryKey];
  const businessId = businessIdForDomain(domain);
  return {
    businessId,
    domain,
    synthetic: false,
    data: {
      business_id: businessId,
      name,
      business_description: description,
      website: `https://${domain}`,
      country_name: country,
      region_name: region,
      city_name: city,
      naics,
      naics_description: naicsDescription,
      linkedin_industry_category: linkedinIndustry,
      linkedin_profile: linkedinUrl(slug),
      number_of_employees_range: employees,
      yearly_revenue_range: revenue,
    },
  };
}

function weightedEmployeeBand(roll: number): EmployeeBand {
  // roll is in [0, 100): walk the cumulative weights, which sum to 100.
  let cumulative = 0;
  for (const band of EMPLOYEE_BANDS) {
    cumulative += EMPLOYEE_BAND_WEIGHTS[band];
    if (roll < cumulative) return band;
  }
  return '1-10';
}

function syntheticMiss(registrable: string): boolean {
  return hashReader(`explorium-sandbox-data:miss:${registrable}`)(100) < NO_MATCH_SHARE_PERCENT;
}

function synthetic(registrable: string): SandboxBusiness {
  const next = hashReader(`explorium-sandbox-data:${registrable}`);
  const businessId = businessIdForDomain(registrable);
  const industryKey = pick(SYNTHETIC_INDUSTRIES, next(SYNTHETIC_INDUSTRIES.length));
  const [linkedinIndustry, naics, naicsDescription] = SANDBOX_INDUSTRIES[industryKey];
  const employees = weightedEmployeeBand(next(100));
  const revenue = pick(REVENUE_BANDS, REVENUE_BASE_BY_EMPLOYEES[employees] + next(2));
  const [country, region, city] = pick(SYNTHETIC_HEADQUARTERS, next(SYNTHETIC_HEADQUARTERS.length));
  const hasRevenue = next(100) >= NO_REVENUE_SHARE_PERCENT;
  const hasLinkedinIndustry = next(100) >= NO_LINKEDIN_INDUSTRY_SHARE_PERCENT;
  const hasData = next(100) >= NO_DATA_SHARE_PERCENT;
  const label = parseHostname(registrable).domainWithoutSuffix ?? registrable.split('.')[0] ?? registrable;
  const name = titleCase(label);
  if (!hasData) return { businessId, domain: registrable, synthetic: true, data: null };
  return {
    businessId,
    domain: registrable,
    synthetic: true,
    data: {
      business_id: businessId,
      name,
      business_description: `${name} is a ${linkedinIndustry} company headquartered in ${titleCase(city)}.`,
      website: `https://${registrable}`,
      country_name: country,
      region_name: region,
      city_name: city,
      naics,
      naics_description: naicsDescription,
      ...(hasLinkedinIndustry ? { linkedin_industry_category: linkedinIndustry } : {}),
      linkedin_profile: linkedinUrl(label.replace(/[^a-z0-9-]/g, '-')),
      number_of_employees_range: employees,
      ...(hasRevenue ? { yearly_revenue_range: revenue } : {}),
    },
  };
}

/** The business a domain matches, if any. Pure: the same input always gives the same answer. */
export function lookupDomain(input: string): SandboxDomainLookup {
  const normalized = normalizeDomain(input);
  if (!normalized.ok) return { kind: 'invalid', message: normalized.message };
  if (isReservedHostname(normalized.hostname)) return { kind: 'no_match' };
  const builtin = BUILTIN_BY_DOMAIN.get(normalized.registrable);
  if (builtin) return { kind: 'match', business: fromBuiltin(builtin) };
  if (normalized.registrable.startsWith(NO_MATCH_PREFIX) || syntheticMiss(normalized.registrable)) {
    return { kind: 'no_match' };
  }
  return { kind: 'match', business: synthetic(normalized.registrable) };
}

/** Name-only matching covers the built-in table alone: a bare name says nothing to hash a domain from. */
export function lookupName(name: string): SandboxBusiness | null {
  const row = BUILTIN_BY_NAME.get(name.trim().toLowerCase());
  return row ? fromBuiltin(row) : null;
}

/**
 * Real Explorium answers single enrich with `data` as an object for some businesses and as an
 * array for others; the sandbox picks per business, deterministically, so clients meet both.
 */
export function singleEnrichShape(businessId: string): 'object' | 'array' {
  return Number.parseInt(businessId.slice(-1), 16) % 2 === 0 ? 'object' : 'array';
}

/**
 * Ids are one-way hashes, so enrichment can only answer for businesses it has handed out. The
 * directory remembers every business matched through it (the built-in table is always known).
 * It lives in memory: ids matched before a sandbox restart are unknown afterwards.
 */
export function createSandboxDirectory() {
  const known = new Map<string, SandboxBusiness>();
  for (const row of SANDBOX_COMPANIES) {
    const business = fromBuiltin(row);
    known.set(business.businessId, business);
  }
  const remember = (business: SandboxBusiness): SandboxBusiness => {
    known.set(business.businessId, business);
    return business;
  };
  return {
    lookupDomain(input: string): SandboxDomainLookup {
      const result = lookupDomain(input);
      if (result.kind === 'match') remember(result.business);
      return result;
    },
    lookupName(name: string): SandboxBusiness | null {
      const business = lookupName(name);
      return business ? remember(business) : null;
    },
    findById(businessId: string): SandboxBusiness | null {
      return known.get(businessId) ?? null;
    },
  };
}
export type SandboxDirectory = ReturnType<typeof createSandboxDirectory>;
