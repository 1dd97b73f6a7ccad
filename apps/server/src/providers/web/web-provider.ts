/**
 * The keyless `web` provider: DNS and homepage signals (web-company.ts) behind the one provider
 * port. Free, so it neither bills nor rate-limits; what bounds it is politeness and our own
 * resources: `concurrency` domains at once per process, `hostConcurrency` visits at once per host.
 * The business id is the domain itself: matching is "does this name exist in DNS".
 */
import { ENRICHED_FIELDS } from '@gtm-enrich/contracts';
import type {
  CallOptions,
  CompanySignals,
  EnrichedField,
  EnrichmentProvider,
  Firmographics,
  ItemError,
  MatchResult,
} from '../provider';
import { createLimiter } from './limiter';
import { createWebLookup, type WebCompany, type WebLookupOptions } from './web-company';

export type WebProviderOptions = WebLookupOptions & {
  /** Domains looked up at once by this process (WEB_CONCURRENCY). */
  concurrency: number;
};

/** Domains per call: small, since one slow site holds its call until the fetch time limit. */
const WEB_BATCH_SIZE = 20;

const EMPLOYEE_BANDS: readonly [number, string][] = [
  [10, '1-10'],
  [50, '11-50'],
  [200, '51-200'],
  [500, '201-500'],
  [1_000, '501-1000'],
  [5_000, '1001-5000'],
  [10_000, '5001-10000'],
];

/** The band ("51-200") a published head count falls in, as other providers name company sizes. */
export function employeeBand(count: number): string {
  for (const [upTo, band] of EMPLOYEE_BANDS) if (count <= upTo) return band;
  return '10001+';
}

/** The lowercase name without a trailing dot; null when it cannot be a host name. */
function normalized(domain: string): string | null {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  return /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/.test(d) ? d : null;
}

/** What the web showed beyond firmographics; null when it showed nothing. */
function toSignals(company: WebCompany): CompanySignals | null {
  const socialProfiles: Record<string, string> = {};
  for (const [network, profile] of Object.entries(company.socialProfiles)) {
    if (profile) socialProfiles[network] = profile.value;
  }
  // Each tool once already (web-company.ts): only how it was found is left out.
  const technologies = company.technologies.map((t) => ({ name: t.name, category: t.category }));
  const signals: CompanySignals = {
    emailProvider: company.emailProvider?.value ?? null,
    technologies,
    logoUrl: company.logoUrl?.value ?? null,
    foundedYear: company.foundedYear?.value ?? null,
    employeeCount: company.employeeCount?.value ?? null,
    socialProfiles,
  };
  const known =
    signals.emailProvider !== null ||
    technologies.length > 0 ||
    signals.logoUrl !== null ||
    signals.foundedYear !== null ||
    signals.employeeCount !== null ||
    Object.keys(socialProfiles).length > 0;
  return known ? signals : null;
}

/** Firmographics and signals from what the web showed; null when it showed none of them. */
export function toFirmographics(company: WebCompany): Firmographics | null {
  const f: Firmographics = {
    name: company.name?.value ?? null,
    industry: null,
    companySize: company.employeeCount ? employeeBand(company.employeeCount.value) : null,
    revenueRange: 'Unknown',
    country: company.country?.value ?? null,
    region: company.region?.value ?? null,
    city: company.city?.value ?? null,
    website: company.website?.value ?? null,
    linkedinUrl: company.socialProfiles.linkedin?.value ?? null,
    description: company.description?.value ?? null,
    signals: toSignals(company),
  };
  const { revenueRange: _unknown, ...rest } = f;
  return Object.values(rest).some((v) => v !== null) ? f : null;
}

/** What toFirmographics can fill: every field but industry and revenue (a homepage rarely states them). */
const WEB_FIELDS: readonly EnrichedField[] = ENRICHED_FIELDS.filter(
  (field) => field !== 'industry' && field !== 'revenue_range',
);

export type WebProvider = EnrichmentProvider & {
  /** The whole record of one domain (every field with its method), for callers that keep more than Firmographics. */
  lookup(domain: string, signal?: AbortSignal): Promise<WebCompany>;
  close(): Promise<void>;
};

export function createWebProvider(opts: WebProviderOptions): WebProvider {
  const web = createWebLookup(opts);
  const limiter = createLimiter(opts.concurrency);

  /** Runs `task` on each item, `concurrency` at a time; the first throw (our resolver failing) fails the call. */
  async function each<T, R>(
    items: readonly T[],
    task: (item: T) => Promise<R>,
    call?: CallOptions,
  ): Promise<R[]> {
    await call?.beforeSend?.(items.map(String));
    return Promise.all(
      items.map((item) =>
        limiter.run(async () => {
          call?.signal?.throwIfAborted();
          return task(item);
        }),
      ),
    );
  }

  return {
    name: 'web',
    maxBatchSize: WEB_BATCH_SIZE,
    // Matching is a DNS lookup and nothing is billed: neither is paced nor kept in the ledger.
    matching: 'local',
    creditsPerRecord: 0,
    fills: WEB_FIELDS,
    lookup: (domain, signal) => web.lookup(domain, signal),

    matchBusinesses(domains, call): Promise<MatchResult[]> {
      return each(
        domains,
        async (domain): Promise<MatchResult> => {
          const name = normalized(domain);
          if (!name) return { domain, businessId: null };
          if (!(await web.present(name))) return { domain, businessId: null };
          return { domain, businessId: name };
        },
        call,
      );
    },

    async enrichFirmographics(businessIds, call) {
      const results = await each(
        businessIds,
        async (id): Promise<[string, Firmographics | null | ItemError]> => {
          const name = normalized(id);
          if (!name)
            return [id, { error: { type: 'invalid_domain', message: `${id} is not a domain name` } }];
          return [id, toFirmographics(await web.lookup(name, call?.signal))];
        },
        call,
      );
      return new Map(results);
    },

    close: () => web.close(),
  };
}
