'use client';

import type { Job } from '@gtm-enrich/contracts';
import { formatCount, formatDuration } from '@/lib/format';
import { ProviderWaterfall } from './provider-waterfall';

/**
 * What the job costs in provider calls and credits: the estimate made before it ran next to what
 * it has used so far. Cache hits cost nothing; they are why a re-run is free.
 */
export function CostCard({ job }: { job: Job }) {
  const { estimate, usage } = job;
  if (estimate === null) return null;
  return (
    <section className="card card__body" aria-labelledby="cost-heading">
      <div className="progress-summary">
        <h2 id="cost-heading" className="progress-summary__main" style={{ fontSize: 16 }}>
          Provider cost
        </h2>
        <span className="muted">
          {job.force_refresh ? 'Cache ignored for this job · ' : ''}
          {job.max_credits !== null
            ? `Spends at most ${formatCount(job.max_credits)} credits`
            : 'No credit limit'}
        </span>
      </div>
      <dl className="counts">
        <div className="count">
          <dt>Credits used</dt>
          <dd>
            {formatCount(usage.credits)}
            {usage.credits > estimate.credits ? (
              <span className="cost-over" style={{ fontSize: 13, fontWeight: 500 }}>
                {' '}
                · over the estimate of {formatCount(estimate.credits)} by{' '}
                {formatCount(usage.credits - estimate.credits)}
              </span>
            ) : (
              <span className="muted" style={{ fontSize: 13, fontWeight: 400 }}>
                {' '}
                of ≤ {formatCount(estimate.credits)} estimated
              </span>
            )}
          </dd>
        </div>
        <div className="count">
          <dt>Provider calls</dt>
          <dd>
            {formatCount(usage.provider_calls)}
            <span className="muted" style={{ fontSize: 13, fontWeight: 400 }}>
              {/* Calls that failed and were retried count too: the estimate assumes none fail. */}
              {usage.provider_calls > estimate.provider_calls
                ? ` · ${formatCount(estimate.provider_calls)} estimated, more as failed calls were retried`
                : ` of ≤ ${formatCount(estimate.provider_calls)}`}
            </span>
          </dd>
        </div>
        <div className="count">
          <dt>Records billed</dt>
          <dd>{formatCount(usage.records_billed)}</dd>
        </div>
        <div className="count">
          <dt>Cache hits</dt>
          <dd>{formatCount(usage.cache_hits)}</dd>
        </div>
        <div className="count">
          <dt>Estimated time</dt>
          <dd>{estimate.duration_seconds > 0 ? formatDuration(estimate.duration_seconds * 1000) : '—'}</dd>
        </div>
      </dl>
      <ProviderWaterfall job={job} before={false} />
    </section>
  );
}
