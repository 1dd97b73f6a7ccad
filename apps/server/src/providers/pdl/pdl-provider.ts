/**
 * People Data Labs as an enrichment provider. PDL enriches by domain in one step, so matching
 * is local (the domain is the business id, no call) and the bulk call is the enrichment: a
 * company PDL answers 404 for (below `min_likelihood`, or unknown) was not found and cost
 * nothing, one answered 200 costs one credit (billed only on a match, as PDL bills).
 */
import type { EnrichedField, EnrichmentProvider, Firmographics, ItemError } from '../provider';
import type { PdlClient } from './pdl-client';

/** What toFirmographics can fill; what PDL knows beyond these (PdlExtra) is not stored. */
const PDL_FILLS: readonly EnrichedField[] = [
  'name',
  'industry',
  'company_size',
  'revenue_range',
  'country',
  'region',
  'city',
  'website',
  'linkedin_url',
  'description',
];

export function createPdlProvider(client: PdlClient): EnrichmentProvider {
  return {
    name: 'pdl',
    maxBatchSize: client.maxBatchSize,
    matching: 'local',
    creditsPerRecord: 1,
    fills: PDL_FILLS,
    async matchBusinesses(domains) {
      return domains.map((domain) => ({ domain, businessId: domain }));
    },
    async enrichFirmographics(domains, call) {
      const results = await client.enrichCompanies(domains, call);
      const byDomain = new Map<string, Firmographics | ItemError>();
      for (const r of results) {
        if (r.status === 'matched') byDomain.set(r.domain, r.firmographics);
        else if (r.status === 'error') byDomain.set(r.domain, { error: r.error });
        // Not found: left out, which the batcher reads as nothing known.
      }
      return byDomain;
    },
  };
}
