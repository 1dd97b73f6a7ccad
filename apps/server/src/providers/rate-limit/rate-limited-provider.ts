import { type EnrichmentProvider, isProviderError } from '../provider';
import type { RateLimiter, RateLimitUnit } from './rate-limiter';

/**
 * The provider, paced by the shared limiter: every call first spends its units, and a 429 makes
 * every caller wait out its Retry-After, not only the one that got it.
 *
 * Counted in records, a limit under the provider's batch size could never admit a full batch:
 * batches are cut to the limit (`limit` 30 a minute: calls of at most 30 items), so a job moves at
 * the limit instead of waiting for a window that never has room.
 */
export function createRateLimitedProvider(
  provider: EnrichmentProvider,
  opts: {
    limiter: RateLimiter;
    unit: RateLimitUnit;
    /** The provider's limit in `unit`s a minute, when known: no call carries more records. */
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
    name: provider.name,
    maxBatchSize:
      opts.unit === 'record' && opts.limit !== undefined
        ? Math.max(1, Math.min(provider.maxBatchSize, Math.floor(opts.limit)))
        : provider.maxBatchSize,
    matchBusinesses: (domains, call) =>
      guarded(domains.length, () => provider.matchBusinesses(domains, call), call?.signal),
    enrichFirmographics: (ids, call) =>
      guarded(ids.length, () => provider.enrichFirmographics(ids, call), call?.signal),
  };
}
