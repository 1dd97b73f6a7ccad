import type { EnrichmentProvider, Firmographics, MatchResult } from '../providers/provider';
import { createMicroBatcher } from './micro-batcher';

export type ProviderBatcher = {
  match(domain: string): Promise<MatchResult>;
  enrich(businessId: string): Promise<Firmographics | null>;
};

/** The worker's view of the provider: one company at a time in, bulk calls out. */
export function createProviderBatcher(
  provider: EnrichmentProvider,
  opts: { windowMs: number },
): ProviderBatcher {
  const matcher = createMicroBatcher<string, MatchResult>({
    maxSize: provider.maxBatchSize,
    windowMs: opts.windowMs,
    async runBatch(domains) {
      const results = await provider.matchBusinesses(domains);
      return new Map(results.map((r, i) => [domains[i]!, r]));
    },
  });
  const enricher = createMicroBatcher<string, Firmographics | null>({
    maxSize: provider.maxBatchSize,
    windowMs: opts.windowMs,
    async runBatch(ids) {
      const byId = await provider.enrichFirmographics(ids);
      // A matched business the provider returns no row for is known to exist but has no data.
      return new Map(ids.map((id) => [id, byId.get(id) ?? null]));
    },
  });
  return { match: (d) => matcher.load(d), enrich: (id) => enricher.load(id) };
}
