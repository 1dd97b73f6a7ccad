/**
 * How provider values are shown. Explorium returns industries and places in lower case
 * ("software development", "south san francisco"); the table shows them as people write them.
 */

import type { Company, FieldProvenance, ProviderName } from '@gtm-enrich/contracts';
import { formatConfidence, formatDateTime, PROVIDER_LABELS } from '@/lib/format';

const SMALL_WORDS = new Set(['and', 'or', 'of', 'the', 'in', 'for', 'on', 'de', 'la']);
const ACRONYMS = new Map([
  ['it', 'IT'],
  ['uk', 'UK'],
  ['usa', 'USA'],
]);

/** "south san francisco" → "South San Francisco"; "it services and it consulting" → "IT Services and IT Consulting". */
export function titleCase(value: string): string {
  return value
    .split(/(\s+)/)
    .map((word, i) => {
      const lower = word.toLowerCase();
      const acronym = ACRONYMS.get(lower);
      if (acronym) return acronym;
      if (i > 0 && SMALL_WORDS.has(lower)) return lower;
      return word.charAt(0).toUpperCase() + word.slice(1);
    })
    .join('');
}

/** "City, Region, Country", skipping what is missing; null when nothing is known. */
export function headquarters(c: { city: string | null; region: string | null; country: string | null }) {
  const parts = [c.city, c.region, c.country].filter((p): p is string => Boolean(p?.trim()));
  return parts.length ? parts.map(titleCase).join(', ') : null;
}

/**
 * An http(s) URL safe to put in an href, or null. Provider data is untrusted: a
 * `javascript:` value must never become a link.
 */
export function safeHttpUrl(value: string | null): string | null {
  if (!value) return null;
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `https://${value}`;
  try {
    const url = new URL(withScheme);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : null;
  } catch {
    return null;
  }
}

export function displayHost(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
    return `${u.hostname.replace(/^www\./, '')}${path}`;
  } catch {
    return url;
  }
}

const MAGNITUDE: Record<string, number> = { K: 1e3, M: 1e6, B: 1e9, T: 1e12 };

/**
 * The lower bound of a band such as "51-200", "10001+", "1B-10B" or "500K-1M", for sorting;
 * null for "Unknown" or anything unparseable.
 */
export function bandLowerBound(value: string | null): number | null {
  if (!value) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMBT])?/i.exec(value.replace(/[$,]/g, ''));
  if (!m?.[1]) return null;
  return Number(m[1]) * (m[2] ? (MAGNITUDE[m[2].toUpperCase()] ?? 1) : 1);
}

/**
 * "Explorium · Dec 5, 2026, 3:04 PM · confidence 80 % · cache": where one field came from, as
 * plain text (the detail panel's copy, a title).
 */
export function provenanceText(p: FieldProvenance): string {
  return [
    PROVIDER_LABELS[p.provider],
    formatDateTime(p.fetched_at),
    p.confidence === null ? null : `confidence ${formatConfidence(p.confidence)}`,
    p.source === 'cache' ? 'cache' : null,
  ]
    .filter((part): part is string => part !== null)
    .join(' · ');
}

/**
 * The providers that filled a company's fields, in the job's order, each marked "cache" when all
 * it gave was reused; null when nothing was filled. A company enriched before fields carried
 * their provenance has none: its source is the job's first provider.
 */
export function companySources(
  c: Pick<Company, 'provenance' | 'source'>,
  providers: readonly ProviderName[],
): string | null {
  const byProvider = new Map<ProviderName, boolean>();
  for (const p of c.provenance) {
    byProvider.set(p.provider, (byProvider.get(p.provider) ?? true) && p.source === 'cache');
  }
  if (byProvider.size === 0) {
    const first = providers[0];
    if (c.source === null || !first) return null;
    return c.source === 'cache' ? `${PROVIDER_LABELS[first]}, cache` : PROVIDER_LABELS[first];
  }
  const rank = (p: ProviderName) => {
    const i = providers.indexOf(p);
    return i === -1 ? providers.length : i;
  };
  return [...byProvider]
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([p, cached]) => (cached ? `${PROVIDER_LABELS[p]} (cache)` : PROVIDER_LABELS[p]))
    .join(', ');
}
