import type { CompanyStatus, JobStatus } from '@gtm-enrich/contracts';
import { COMPANY_STATUS_LABELS, JOB_STATUS_LABELS } from '@/lib/format';

export function JobStatusBadge({ status }: { status: JobStatus }) {
  return <span className={`badge status-${status}`}>{JOB_STATUS_LABELS[status]}</span>;
}

export function CompanyStatusBadge({ status }: { status: CompanyStatus }) {
  return <span className={`badge status-${status}`}>{COMPANY_STATUS_LABELS[status]}</span>;
}
