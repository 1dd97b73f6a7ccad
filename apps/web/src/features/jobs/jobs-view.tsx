'use client';

import type { Job } from '@gtm-enrich/contracts';
import { useInfiniteQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { JobProgressBar } from '@/components/job-progress-bar';
import { LoadMoreButton } from '@/components/load-more-button';
import { ProviderSequence } from '@/components/provider-sequence';
import { ScrollRegion } from '@/components/scroll-region';
import { JobStatusBadge } from '@/components/status-badge';
import { jobHref } from '@/features/job/routes';
import { errorMessage } from '@/lib/api';
import { formatCount, formatDateTime, formatRelative, PROVIDER_LABELS, percentDone } from '@/lib/format';
import { useCan, useOrgId } from '@/lib/org';
import { jobsListQuery } from './queries';

export function JobsView() {
  const orgId = useOrgId();
  const canUpload = useCan('member');
  const query = useInfiniteQuery(jobsListQuery(orgId));
  const jobs = query.data?.pages.flatMap((page) => page.data) ?? [];
  const now = query.dataUpdatedAt || Date.now();

  return (
    <div className="page">
      <div className="page-header">
        <div className="page-header__text">
          <h1>Jobs</h1>
          <p className="muted">Every file uploaded for this organization, newest first.</p>
        </div>
        {canUpload ? (
          <div className="page-header__actions">
            <Link href="/" className="button button--primary">
              New upload
            </Link>
          </div>
        ) : null}
      </div>

      {query.isError ? (
        <div role="alert" className="alert alert--error">
          <div className="alert__body">{errorMessage(query.error)}</div>
        </div>
      ) : null}

      <section className="card" aria-labelledby="jobs-heading">
        <h2 id="jobs-heading" className="visually-hidden">
          Jobs of {orgId}
        </h2>
        {query.isPending ? (
          <JobsSkeleton />
        ) : jobs.length === 0 && !query.isError ? (
          <div className="empty">
            <p className="empty__title">No jobs yet for “{orgId}”</p>
            {canUpload ? (
              <>
                <p>
                  Upload a CSV with a column of company domains to start your first enrichment job. It will
                  show up here with its progress.
                </p>
                <Link href="/" className="button button--primary" style={{ marginTop: 8 }}>
                  Upload a CSV
                </Link>
              </>
            ) : (
              <p>Jobs that members of the organization start will show up here with their progress.</p>
            )}
          </div>
        ) : (
          <>
            <ScrollRegion label="Jobs table">
              <table className="table">
                <caption>
                  {formatCount(jobs.length)} {jobs.length === 1 ? 'job' : 'jobs'} of {orgId}
                  {query.hasNextPage ? ' loaded' : ''}, newest first.
                </caption>
                <thead>
                  <tr>
                    <th scope="col">File</th>
                    <th scope="col">Status</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Results</th>
                    <th scope="col" className="col-num">
                      Companies
                    </th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {jobs.map((job) => (
                    <JobRow key={job.id} job={job} now={now} />
                  ))}
                </tbody>
              </table>
            </ScrollRegion>
            <div className="table-footer">
              <span>
                {formatCount(jobs.length)} {jobs.length === 1 ? 'job' : 'jobs'} shown
              </span>
              <LoadMoreButton query={query} />
            </div>
          </>
        )}
      </section>
    </div>
  );
}

function JobRow({ job, now }: { job: Job; now: number }) {
  const pct = percentDone(job);
  const name = job.filename ?? 'Untitled upload';
  return (
    <tr>
      <th scope="row" className="nowrap">
        <Link href={jobHref(job.id)}>{name}</Link>
        <span
          className="faint"
          title={`Providers, in order: ${job.providers.map((p) => PROVIDER_LABELS[p]).join(', ')}`}
        >
          {' · '}
          <ProviderSequence providers={job.providers} short />
        </span>
      </th>
      <td>
        <JobStatusBadge job={job} />
      </td>
      <td>
        <div className="jobs-progress">
          <JobProgressBar job={job} label={`Progress of ${name}`} thin />
          <span className="jobs-progress__pct">{pct} %</span>
        </div>
      </td>
      <td>
        <span className="mini-counts">
          <span className="status-enriched" title="Enriched">
            {formatCount(job.counts.enriched)}
            <span className="visually-hidden"> enriched</span>
          </span>
          <span className="status-not_found" title="Not found">
            {formatCount(job.counts.not_found)}
            <span className="visually-hidden"> not found</span>
          </span>
          <span className="status-failed" title="Failed">
            {formatCount(job.counts.failed)}
            <span className="visually-hidden"> failed</span>
          </span>
        </span>
      </td>
      <td className="col-num">{formatCount(job.total)}</td>
      <td className="nowrap">
        <time dateTime={job.created_at} title={formatDateTime(job.created_at)}>
          {formatRelative(job.created_at, now)}
        </time>
      </td>
    </tr>
  );
}

function JobsSkeleton() {
  return (
    <div style={{ padding: 16, display: 'flex', flexDirection: 'column', gap: 12 }} aria-hidden="true">
      {[0, 1, 2].map((i) => (
        <div key={i} className="skeleton" style={{ height: 20 }} />
      ))}
    </div>
  );
}
