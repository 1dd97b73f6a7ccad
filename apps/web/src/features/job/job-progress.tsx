'use client';

import { type CompanyStatus, isJobFinished, type Job } from '@gtm-enrich/contracts';
import { useEffect, useRef, useState } from 'react';
import { JobProgressBar } from '@/components/job-progress-bar';
import { COMPANY_STATUS_LABELS, doneCount, formatCount, formatDuration, percentDone } from '@/lib/format';

/** The rate is measured over this much recent history, so a stall shows up within a few polls. */
const ETA_WINDOW_MS = 30_000;

type Sample = { at: number; done: number };

/**
 * Time left, from the rate observed between polls (companies finished per ms over the last
 * ETA_WINDOW_MS). null while it cannot be told: fewer than two polls, or no progress in the window.
 */
export function useEta(job: Job | undefined, updatedAt: number): number | null {
  const samples = useRef<{ jobId: string | null; list: Sample[] }>({ jobId: null, list: [] });
  const [eta, setEta] = useState<number | null>(null);
  const jobId = job?.id ?? null;
  const done = job ? doneCount(job) : 0;
  const total = job?.total ?? 0;
  const running = job !== undefined && !isJobFinished(job) && job.status !== 'paused';

  useEffect(() => {
    if (!jobId || !running || updatedAt === 0) {
      setEta(null);
      return;
    }
    const store = samples.current;
    if (store.jobId !== jobId) {
      store.jobId = jobId;
      store.list = [];
    }
    const last = store.list[store.list.length - 1];
    if (!last || last.at !== updatedAt) store.list.push({ at: updatedAt, done });
    // Keep the window, but always at least two samples to measure between.
    while (store.list.length > 2 && updatedAt - store.list[0]!.at > ETA_WINDOW_MS) store.list.shift();

    const first = store.list[0]!;
    const elapsed = updatedAt - first.at;
    const progressed = done - first.done;
    setEta(elapsed > 0 && progressed > 0 ? ((total - done) / progressed) * elapsed : null);
  }, [jobId, running, updatedAt, done, total]);

  return eta;
}

const COUNT_ORDER: readonly CompanyStatus[] = [
  'enriched',
  'not_found',
  'failed',
  'processing',
  'queued',
  'cancelled',
];

function etaText(job: Job, eta: number | null): string {
  if (job.status === 'completed') {
    if (job.started_at && job.finished_at) {
      return `Finished in ${formatDuration(new Date(job.finished_at).getTime() - new Date(job.started_at).getTime())}`;
    }
    return 'Finished';
  }
  if (job.status === 'cancelled') {
    return job.counts.processing > 0
      ? `Cancelling: ${formatCount(job.counts.processing)} already at the provider finish first`
      : 'Cancelled';
  }
  if (job.status === 'paused')
    return job.error?.code === 'AWAITING_START' ? 'Waiting for you to start' : 'Paused';
  if (job.status === 'queued' && doneCount(job) === 0) return 'Waiting to start…';
  if (eta === null) return 'Estimating time left…';
  return eta < 1000 ? 'Almost done' : `About ${formatDuration(eta)} left`;
}

/** Coarse on purpose: a screen reader hears every 10 %, not every poll. */
function announcement(job: Job): string {
  const pct = percentDone(job);
  if (job.status === 'cancelled') {
    return job.counts.processing > 0 ? 'Job cancelled; finishing the companies in flight.' : 'Job cancelled.';
  }
  if (job.status === 'completed') {
    return `Job completed: ${job.counts.enriched} enriched, ${job.counts.not_found} not found, ${job.counts.failed} failed.`;
  }
  if (job.status === 'paused') return 'Job paused.';
  return `${Math.floor(pct / 10) * 10} % done.`;
}

export function ProgressCard({ job, updatedAt }: { job: Job; updatedAt: number }) {
  const eta = useEta(job, updatedAt);
  const pct = percentDone(job);
  const done = doneCount(job);
  return (
    <section className="card card__body progress-card" aria-labelledby="progress-heading">
      <h2 id="progress-heading" className="visually-hidden">
        Progress
      </h2>
      <div className="progress-summary">
        <div className="progress-summary__main">
          <span className="progress-percent">{pct} %</span>
          <span className="muted num">
            {formatCount(done)} of {formatCount(job.total)} {job.total === 1 ? 'company' : 'companies'} done
          </span>
        </div>
        <span className="progress-eta">{etaText(job, eta)}</span>
      </div>
      <JobProgressBar job={job} label="Enrichment progress" />
      <p className="visually-hidden" aria-live="polite">
        {announcement(job)}
      </p>
      <dl className="counts">
        {COUNT_ORDER.map((status) => (
          <div key={status} className={`count status-${status}`}>
            <dt>{COMPANY_STATUS_LABELS[status]}</dt>
            <dd>{formatCount(job.counts[status])}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
