import { type SQL, sql } from 'drizzle-orm';

/** How long cache entries are fresh: a match (with or without firmographics), and a no-match. */
export type CacheFreshness = { ttlMs: number; noMatchTtlMs: number };

/**
 * The one statement of the freshness rule: the `enrichment_cache` row aliased `ec` is recent
 * enough to answer instead of the provider. A no-match (no business id) keeps for less time.
 */
export function isFreshCacheEntry(fresh: CacheFreshness): SQL {
  return sql`ec.fetched_at > now() - make_interval(secs => (case when ec.business_id is null
    then ${fresh.noMatchTtlMs} else ${fresh.ttlMs} end)::double precision / 1000)`;
}
