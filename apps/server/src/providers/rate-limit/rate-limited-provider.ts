import { type EnrichmentProvider, isProviderError, traitsOf } from '../provider';
import type { RateLimiter, RateLimitUnit } from './rate-limiter';

/**
 * The provider, paced by the shared limiter: every call first spends its units, and a 429 makes
 * every caller wait out its Retry-After, not only the one that got it.
 *
 * Counted in records, a limit under the provider's batch size could never admit a full batch, so
 * batches are cut: to half the limit (`limit` 30 a minute: calls of at most 15 items), so that two
 * calls share a window. Cut to the whole limit, one call filled the window and any smaller call
 * after it left the rest of its window unused (0.81 of the limit at 30 a minute, against 0.98).
 */
export function createRateLimitedProvider(
  provider: EnrichmentProvider,
  opts: {
    limiter: RateLimiter;
    unit: RateLimitUnit;
    /** The provider's limit in `unit`s a minute, when known: no call carries more than half as many records. */
    limit?: number;
  },
): EnrichmentProvider {
  const units = (items: number) => (opts.unit === 'request' ? 1 : items);
  async function guarded<T>(items: number, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await opts.limiter.acquire(units(items), signal);
    try {
      return await call();
    } catch (err) {
      if (isProviderError(err) && err.kind === 'rate_limited' && err.retryAfterMs) {
        await opts.limiter.pauseFor(err.retryAfterMs);
      }
      throw err;
    }
  }
  return {
    ...traitsOf(provider),
    maxBatchSize:
      opts.unit === 'record' && opts.limit !== undefined
        ? Math.max(1, Math.min(provider.maxBatchSize, Math.floor(opts.limit / 2)))
        : provider.maxBatchSize,
    // A local match asks nothing of the provider's API: nothing to pace.
    matchBusinesses: (domains, call) =>
      provider.matching === 'local'
        ? provider.matchBusinesses(domains, call)
        : guarded(domains.length, () => provider.matchBusinesses(domains, call), call?.signal),
    enrichFirmographics: (ids, call) =>
      guarded(ids.length, () => provider.enrichFirmographics(ids, call), call?.signal),
  };
}
