/**
 * How fresh a cached answer must be to be reused instead of a paid call, and whose entries may
 * answer: read from the settings once.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { CacheScope } from './enrichment-cache.sql';

const DAY_MS = 86_400_000;

export type CachePolicy = { ttlMs: number; noMatchTtlMs: number; scope: CacheScope };

export function cachePolicy(config: Config, logger: Logger): CachePolicy {
  const policy: CachePolicy = {
    ttlMs: config.ENRICHMENT_CACHE_TTL_DAYS * DAY_MS,
    noMatchTtlMs: config.ENRICHMENT_CACHE_NO_MATCH_TTL_DAYS * DAY_MS,
    scope: config.ENRICHMENT_CACHE_SCOPE,
  };
  if (policy.scope === 'installation') {
    logger.warn(
      'ENRICHMENT_CACHE_SCOPE=installation: the enrichment cache is SHARED by every organization here; ' +
        'one learns from its estimates and results which domains another looked up, and when.',
    );
  }
  return policy;
}

/** The policy as a claim reads it (company-state.repository.ts). */
export function claimCache(policy: CachePolicy) {
  return { cacheTtlMs: policy.ttlMs, noMatchCacheTtlMs: policy.noMatchTtlMs, cacheScope: policy.scope };
}
