/** Database rows as the API's resources (packages/contracts). */
import {
  type Company,
  type CompanyProvenance,
  type EnrichedField,
  isFileRead,
  type Job,
  type ProvenanceEntry,
  type ProviderName,
} from '@gtm-enrich/contracts';
import type { CompanyRow, JobRow } from '../db/schema';
import type { JobUsage } from '../enrichment/ledger.repository';
import type { FieldProvenances } from '../enrichment/waterfall';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Where a provider stands in a job's waterfall (one it no longer names comes last). */
const rank = (row: JobRow, provider: string) => {
  const i = row.providers.indexOf(provider as ProviderName);
  return i === -1 ? row.providers.length : i;
};

export function toJobResource(row: JobRow, usage: JobUsage): Job {
  return {
    id: row.id,
    org_id: row.orgId,
    status: row.status,
    provider: row.providers[0] ?? row.provider,
    providers: row.providers,
    filename: row.filename,
    total: row.total,
    counts: {
      queued: row.queuedCount,
      processing: row.processingCount,
      enriched: row.enrichedCount,
      not_found: row.notFoundCount,
      failed: row.failedCount,
      cancelled: row.cancelledCount,
    },
    rejected_rows: row.rejectedRows,
    input_rows: row.inputRows,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    force_refresh: row.forceRefresh,
    max_credits: row.maxCredits,
    // Made when the file has been read: an ingesting (or unreadable) upload has none yet.
    estimate: isFileRead(row)
      ? {
          cache_hits: row.estimateCacheHits,
          provider_calls: row.estimateProviderCalls,
          credits: row.estimateCredits,
          duration_seconds: row.estimateSeconds,
          providers: (
            row.estimateProviders ?? [
              // A job estimated before waterfalls: its one provider had the whole estimate.
              {
                provider: row.provider,
                providerCalls: row.estimateProviderCalls,
                credits: row.estimateCredits,
                seconds: row.estimateSeconds,
              },
            ]
          ).map((p) => ({
            provider: p.provider as ProviderName,
            provider_calls: p.providerCalls,
            credits: p.credits,
          })),
        }
      : null,
    usage: {
      provider_calls: usage.providerCalls,
      records_billed: usage.recordsBilled,
      credits: usage.credits,
      cache_hits: row.cacheHits,
      // In the job's waterfall order.
      providers: [...usage.providers]
        .sort((a, b) => rank(row, a.provider) - rank(row, b.provider))
        .map((p) => ({
          provider: p.provider as ProviderName,
          provider_calls: p.calls,
          records_billed: p.records,
          credits: p.credits,
        })),
    },
    created_at: row.createdAt.toISOString(),
    started_at: iso(row.startedAt),
    finished_at: iso(row.finishedAt),
  };
}

export function toCompanyResource(row: CompanyRow): Company {
  return {
    id: row.id,
    job_id: row.jobId,
    domain: row.domain,
    input: row.input,
    row_number: row.rowNumber,
    status: row.status,
    business_id: row.businessId,
    match_confidence: row.matchConfidence,
    name: row.name,
    industry: row.industry,
    company_size: row.companySize,
    revenue_range: row.revenueRange,
    country: row.country,
    region: row.region,
    city: row.city,
    website: row.website,
    linkedin_url: row.linkedinUrl,
    description: row.description,
    signals: row.signals
      ? {
          email_provider: row.signals.emailProvider,
          technologies: row.signals.technologies,
          logo_url: row.signals.logoUrl,
          founded_year: row.signals.foundedYear,
          employee_count: row.signals.employeeCount,
          social_profiles: row.signals.socialProfiles,
        }
      : null,
    provenance: groupedProvenance(row.provenance),
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    attempts: row.attempts,
    source: row.source,
    fetched_at: iso(row.fetchedAt),
    enriched_at: iso(row.enrichedAt),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The stored per-field provenance as the API shows it: one entry per provider answer, oldest first. */
function groupedProvenance(stored: FieldProvenances | null): CompanyProvenance {
  const entries = new Map<string, ProvenanceEntry>();
  for (const [field, p] of Object.entries(stored ?? {})) {
    if (!p) continue;
    const key = `${p.provider} ${p.fetched_at} ${p.source}`;
    const entry = entries.get(key) ?? { ...p, fields: [] };
    entry.fields.push(field as EnrichedField);
    entries.set(key, entry);
  }
  return [...entries.values()].sort((a, b) => a.fetched_at.localeCompare(b.fetched_at));
}
