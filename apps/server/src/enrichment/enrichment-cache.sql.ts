import { type SQL, sql } from 'drizzle-orm';

/** How long cache entries are fresh: a match (with or without firmographics), and a no-match. */
export type CacheFreshness = { ttlMs: number; noMatchTtlMs: number };

/**
 * Who an enrichment-cache entry answers (ENRICHMENT_CACHE_SCOPE). Every entry records the
 * organization whose lookup paid for it; the scope only decides who may read it:
 * - `org`: that organization alone. Another organization's upload of the same domain is a miss,
 *   asked of the provider and paid for again, so nothing it sees (estimate, source, fetched_at,
 *   counts, credits) depends on what other organizations looked up.
 * - `installation`: every organization (one company running several teams): a domain is paid for
 *   once per freshness window, whoever asks. The hit is free for the reader; the credits stay
 *   with the job whose call fetched the entry.
 * Switching from `installation` to `org` needs no migration: each organization keeps its own.
 */
export type CacheScope = 'org' | 'installation';

/**
 * The one statement of the freshness rule: the `enrichment_cache` row aliased `ec` is recent
 * enough to answer instead of the provider. A no-match (no business id) keeps for less time.
 */
export function isFreshCacheEntry(fresh: CacheFreshness): SQL {
  return sql`ec.fetched_at > now() - make_interval(secs => (case when ec.business_id is null
    then ${fresh.noMatchTtlMs} else ${fresh.ttlMs} end)::double precision / 1000)`;
}

/**
 * The one statement of the scope rule: the `enrichment_cache` row aliased `ec` may answer a
 * lookup by organization `orgId` (an SQL expression). A bound parameter, not two SQL texts, so a
 * named prepared statement reads the same whatever the setting.
 */
export function isVisibleCacheEntry(scope: CacheScope, orgId: SQL): SQL {
  return sql`(${scope === 'installation'}::boolean or ec.org_id = ${orgId})`;
}
