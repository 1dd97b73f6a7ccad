import {
  type CompanyStatus,
  isFileRead,
  type Job,
  type JobStatus,
  type ProviderName,
} from '@gtm-enrich/contracts';

const INTEGER = new Intl.NumberFormat('en-US');
const DATE_TIME = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });
const RELATIVE = new Intl.RelativeTimeFormat('en-US', { numeric: 'auto' });

export function formatCount(n: number): string {
  return INTEGER.format(n);
}

export function formatDateTime(iso: string): string {
  return DATE_TIME.format(new Date(iso));
}

/** "3 minutes ago", "yesterday"; `now` is passed in so a list renders one consistent instant. */
export function formatRelative(iso: string, now: number): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 60 * 45) return RELATIVE.format(Math.round(seconds / 60), 'minute');
  if (abs < 3600 * 22) return RELATIVE.format(Math.round(seconds / 3600), 'hour');
  return RELATIVE.format(Math.round(seconds / 86_400), 'day');
}

/** "under 1 s", "45 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return 'under 1 s';
  const total = Math.round(ms / 1000);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  if (minutes < 60) return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export const COMPANY_STATUS_LABELS: Record<CompanyStatus, string> = {
  queued: 'Queued',
  processing: 'Processing',
  enriched: 'Enriched',
  not_found: 'Not found',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export const JOB_STATUS_LABELS: Record<JobStatus, string> = {
  ingesting: 'Reading file',
  queued: 'Queued',
  running: 'Running',
  paused: 'Paused',
  completed: 'Completed',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

/** Companies the job is done with, whatever the outcome. */
export function doneCount(job: Pick<Job, 'counts'>): number {
  const c = job.counts;
  return c.enriched + c.not_found + c.failed + c.cancelled;
}

/** Whole percent done, 0-100; an empty job counts as done, one whose file is not read yet as not started. */
export function percentDone(job: Pick<Job, 'counts' | 'total' | 'status'>): number {
  if (job.total === 0) return isFileRead(job) ? 100 : 0;
  const pct = Math.floor((doneCount(job) / job.total) * 100);
  // Rounding down keeps 100 % for when every company really is done.
  return Math.min(100, pct);
}

/** How the page names each provider (the job's and a company's source). */
export const PROVIDER_LABELS: Record<ProviderName, string> = {
  explorium: 'Explorium',
  pdl: 'People Data Labs',
  web: 'Web (DNS and homepage)',
  sandbox: 'Sandbox (synthetic)',
};

/** The same, where a row has little room (the list of jobs). */
export const PROVIDER_SHORT_LABELS: Record<ProviderName, string> = {
  explorium: 'Explorium',
  pdl: 'PDL',
  web: 'Web',
  sandbox: 'Sandbox',
};

/**
 * A 0–1 confidence as a whole percent, rounded down so that what is shown passes the filter it
 * seems to ("79 %" for 0.795 is left out by "at least 80 %"): "80 %".
 */
export function formatConfidence(confidence: number): string {
  // The epsilon absorbs binary fractions: 0.29 * 100 is 28.999999999999996.
  return `${Math.floor(confidence * 100 + 1e-9)} %`;
}
