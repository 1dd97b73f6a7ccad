import type { CompanyStatus, Job } from '@gtm-enrich/contracts';
import { COMPANY_STATUS_LABELS, formatCount, JOB_STATUS_LABELS } from '@/lib/format';

/** The code of a job uploaded to wait for its start (start=false): the page asks before spending. */
export const AWAITING_START = 'AWAITING_START';

/**
 * What a job's badge says, from its counts as well as its status: a job whose every company
 * failed did not complete in any useful sense, and a cancelled job is still finishing the
 * companies already at the provider.
 */
export function jobBadge(job: Pick<Job, 'status' | 'counts' | 'total' | 'error'>): {
  label: string;
  tone: string;
} {
  const { failed, processing } = job.counts;
  if (job.status === 'paused' && job.error?.code === AWAITING_START)
    return { label: 'Ready to start', tone: 'queued' };
  if (job.status === 'completed') {
    if (job.total > 0 && failed === job.total) return { label: 'Failed', tone: 'failed' };
    if (failed > 0) return { label: `Completed · ${formatCount(failed)} failed`, tone: 'not_found' };
    return { label: 'Completed', tone: 'completed' };
  }
  if (job.status === 'cancelled' && processing > 0) {
    return { label: `Cancelling · ${formatCount(processing)} in flight`, tone: 'cancelled' };
  }
  return { label: JOB_STATUS_LABELS[job.status], tone: job.status };
}

export function JobStatusBadge({ job }: { job: Pick<Job, 'status' | 'counts' | 'total' | 'error'> }) {
  const { label, tone } = jobBadge(job);
  return <span className={`badge status-${tone}`}>{label}</span>;
}

export function CompanyStatusBadge({ status }: { status: CompanyStatus }) {
  return <span className={`badge status-${status}`}>{COMPANY_STATUS_LABELS[status]}</span>;
}
