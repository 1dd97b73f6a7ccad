/** Database rows as the API's resources (packages/contracts). */
import type { Company, Job } from '@gtm-enrich/contracts';
import type { CompanyRow, JobRow } from '../db/schema';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toJobResource(row: JobRow): Job {
  return {
    id: row.id,
    org_id: row.orgId,
    status: row.status,
    provider: row.provider,
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
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? '' } : null,
    attempts: row.attempts,
    enriched_at: iso(row.enrichedAt),
  };
}
