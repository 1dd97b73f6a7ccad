/**
 * The last step before a provider call leaves: it waits while the database is unreachable (a
 * result that could not be written would only be held), and it sends only the items that a
 * company this worker still holds wants (see held-claims.ts). Items dropped here are answered
 * as if unknown; their companies are no longer held, so nothing is written for them. When no
 * item is left, no call is made, and the error says so: no ledger row, no attempt spent.
 */

function nothingToSend(): ProviderError {
  return new ProviderError('transient', 'Not sent: this worker no longer holds any company of the call.', {
    reachedProvider: false,
    countsAsAttempt: false,
  });
}

import { type EnrichmentProvider, type MatchResult, ProviderError, traitsOf } from '../providers/provider';
import type { HeldClaims } from './held-claims';

export function createClaimGuardedProvider(
  provider: EnrichmentProvider,
  claims: Pick<HeldClaims, 'stillWanted'>,
): EnrichmentProvider {
  return {
    ...traitsOf(provider),
    async matchBusinesses(domains, call) {
      const wanted = await claims.stillWanted('match', domains);
      const sent = domains.filter((d) => wanted.has(d));
      if (sent.length === 0) throw nothingToSend();
      const results = await provider.matchBusinesses(sent, call);
      const byDomain = new Map(sent.map((d, i) => [d, results[i]!]));
      return domains.map(
        (domain): MatchResult =>
          byDomain.get(domain) ?? {
            domain,
            businessId: null,
            error: { type: 'claim_lost', message: 'Not sent: this worker no longer holds the company.' },
          },
      );
    },
    async enrichFirmographics(businessIds, call) {
      const wanted = await claims.stillWanted('enrich', businessIds);
      const sent = businessIds.filter((id) => wanted.has(id));
      if (sent.length === 0) throw nothingToSend();
      return provider.enrichFirmographics(sent, call);
    },
  };
}
