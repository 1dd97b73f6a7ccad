'use client';

import { isFileRead, type Job } from '@gtm-enrich/contracts';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { useId, useState } from 'react';
import { ProviderSequence } from '@/components/provider-sequence';
import { AWAITING_START, JobStatusBadge } from '@/components/status-badge';
import { errorMessage } from '@/lib/api';
import { formatCount, formatDateTime, formatDuration } from '@/lib/format';
import { useCan, useOrgId } from '@/lib/org';
import { CompaniesTable } from './companies-table';
import { CreditLimitForm } from './credit-limit-form';
import { resumeJob } from './job-action-requests';
import { JobActions } from './job-actions';
import { CostCard } from './job-cost';
import { ProgressCard } from './job-progress';
import { ProviderWaterfall } from './provider-waterfall';
import { downloadExport, type ExportLayout, jobKeys, jobQuery } from './queries';
import { RejectedRows } from './rejected-rows';

export function JobView() {
  const params = useSearchParams();
  const orgId = useOrgId();
  const jobId = params.get('id') ?? '';

  if (!jobId) {
    return (
      <div className="page">
        <div className="empty card">
          <p className="empty__title">No job selected</p>
          <p>Open a job from the list of jobs, or upload a CSV to start one.</p>
          <Link href="/jobs/" className="button">
            See all jobs
          </Link>
        </div>
      </div>
    );
  }
  return <LoadedJobView key={`${orgId}/${jobId}`} orgId={orgId} jobId={jobId} />;
}

function LoadedJobView({ orgId, jobId }: { orgId: string; jobId: string }) {
  const query = useQuery(jobQuery(orgId, jobId));

  if (query.isPending) return <JobSkeleton />;
  if (query.isError && !query.data) {
    return (
      <div className="page">
        <nav className="breadcrumb" aria-label="Breadcrumb">
          <Link href="/jobs/">Jobs</Link>
        </nav>
        <div role="alert" className="alert alert--error">
          <div className="alert__body">
            <p className="alert__title">This job could not be loaded</p>
            <p>{errorMessage(query.error)}</p>
            <p className="muted">
              Organization: <span className="mono">{orgId}</span>. Jobs are only visible to the organization
              that uploaded them.
            </p>
          </div>
        </div>
      </div>
    );
  }
  const job = query.data;
  return (
    <div className="page">
      {query.isError ? <ReconnectingNotice updatedAt={query.dataUpdatedAt} /> : null}
      <JobHeader job={job} orgId={orgId} />
      {job.providers.includes('sandbox') ? <SandboxBanner /> : null}
      {job.error?.code === AWAITING_START ? (
        // Asked once the file is read (its estimate comes with it); while reading, nothing to ask.
        job.status === 'paused' ? (
          <StartCard job={job} orgId={orgId} />
        ) : null
      ) : job.error ? (
        <JobErrorBanner job={job} orgId={orgId} />
      ) : null}
      {job.status === 'ingesting' ? <IngestingCard job={job} /> : null}
      {isFileRead(job) ? (
        <>
          <ProgressCard job={job} updatedAt={query.dataUpdatedAt} />
          <CostCard job={job} />
          <CompaniesTable job={job} orgId={orgId} />
          {job.rejected_rows > 0 ? <RejectedRows job={job} orgId={orgId} /> : null}
        </>
      ) : null}
    </div>
  );
}

function JobHeader({ job, orgId }: { job: Job; orgId: string }) {
  return (
    <div className="page-header">
      <div className="page-header__text">
        <nav className="breadcrumb" aria-label="Breadcrumb">
          <Link href="/jobs/">Jobs</Link> <span aria-hidden="true">/</span>{' '}
          <span className="mono">{job.id.slice(0, 8)}</span>
        </nav>
        <div style={{ display: 'flex', alignItems: 'center', gap: 10, flexWrap: 'wrap' }}>
          <h1 style={{ overflowWrap: 'anywhere' }}>{job.filename ?? 'Untitled upload'}</h1>
          <JobStatusBadge job={job} />
        </div>
        <dl className="job-facts">
          <div>
            <dt>{job.providers.length > 1 ? 'Providers, in order' : 'Provider'}</dt>
            <dd>
              <ProviderSequence providers={job.providers} />
            </dd>
          </div>
          <div>
            <dt>Organization</dt>
            <dd className="mono">{orgId}</dd>
          </div>
          <div>
            <dt>Rows read</dt>
            <dd>{formatCount(job.input_rows)}</dd>
          </div>
          <div>
            <dt>Unique companies</dt>
            <dd>{formatCount(job.total)}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>
              <time dateTime={job.created_at}>{formatDateTime(job.created_at)}</time>
            </dd>
          </div>
        </dl>
      </div>
      <div className="page-header__actions">
        <JobActions job={job} orgId={orgId} />
        {isFileRead(job) ? <Exports job={job} /> : null}
      </div>
    </div>
  );
}

const EXPORTS: Record<ExportLayout, { label: string; title: string; primary: boolean }> = {
  companies: { label: 'Export CSV', title: 'One row per company, every field', primary: true },
  rows: {
    label: 'Export my file',
    title:
      'Your file as uploaded, every row in order, with the enrichment columns appended: ready to re-import',
    primary: false,
  },
};

/**
 * Members and admins only: a viewer's key may read the results but not export them. "With
 * provenance" applies to both layouts: a column per field saying which provider filled it and when.
 */
function Exports({ job }: { job: Job }) {
  const canExport = useCan('member');
  const [provenance, setProvenance] = useState(false);
  const hintId = useId();
  if (!canExport) return null;
  return (
    <>
      <label
        className="checkbox export-provenance"
        title="Adds, per enriched field, the provider that filled it and when"
      >
        <input
          type="checkbox"
          checked={provenance}
          onChange={(e) => setProvenance(e.target.checked)}
          aria-describedby={hintId}
        />
        With provenance
      </label>
      <span id={hintId} className="visually-hidden">
        The exports add, per enriched field, the provider that filled it and when
      </span>
      <ExportButton job={job} layout="rows" provenance={provenance} />
      <ExportButton job={job} layout="companies" provenance={provenance} />
    </>
  );
}

function ExportButton({ job, layout, provenance }: { job: Job; layout: ExportLayout; provenance: boolean }) {
  const { label, title, primary } = EXPORTS[layout];
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });
  const onClick = async () => {
    setState({ busy: true, error: null });
    try {
      await downloadExport(job, layout, provenance);
      setState({ busy: false, error: null });
    } catch (err) {
      setState({ busy: false, error: errorMessage(err) });
    }
  };
  return (
    <>
      {state.error ? (
        <span role="alert" className="field__error">
          {state.error}
        </span>
      ) : null}
      <button
        type="button"
        onClick={onClick}
        disabled={state.busy}
        title={title}
        className={primary ? 'button button--primary' : 'button'}
      >
        <svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" aria-hidden="true">
          <path
            d="M12 4v12m0 0-4-4m4 4 4-4M4 20h16"
            strokeWidth="2"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
        {state.busy ? 'Exporting…' : label}
      </button>
    </>
  );
}

/** The server did not answer the last polls: what is shown is kept, and says how old it is. */
function ReconnectingNotice({ updatedAt }: { updatedAt: number }) {
  return (
    <div role="status" className="alert alert--warning reconnecting">
      <div className="alert__body">
        <p className="alert__title">Reconnecting…</p>
        <p>
          The server is not answering. The figures below are from{' '}
          <time dateTime={new Date(updatedAt).toISOString()}>
            {new Date(updatedAt).toLocaleTimeString('en-US')}
          </time>{' '}
          and update as soon as it is back.
        </p>
      </div>
    </div>
  );
}

/** Why the job's data is made up, and what the operator sets for real data. */
function SandboxBanner() {
  return (
    <div className="banner-sandbox" role="note" aria-label="Sandbox data">
      <span className="banner-sandbox__tag">Sandbox</span>
      <p>
        <strong>Sandbox: synthetic data</strong> — no provider key is set and this machine could not resolve
        public names. Set <code>EXPLORIUM_API_KEY</code> or <code>PDL_API_KEY</code>, or give the machine DNS
        (<code>DNS_SERVERS</code>) for the keyless web provider.
      </p>
    </div>
  );
}

/** A large file is stored and being read: its companies, counts and estimate come when it is done. */
function IngestingCard({ job }: { job: Job }) {
  return (
    <section className="card card__body" aria-labelledby="ingesting-heading" aria-busy="true">
      <h2 id="ingesting-heading" className="progress-summary__main" style={{ fontSize: 16 }}>
        Reading your file
      </h2>
      <p className="muted" role="status">
        {formatCount(job.input_rows)} rows received and checked. Companies, the cost estimate and enrichment
        start as soon as every row is read; this page updates by itself.
      </p>
    </section>
  );
}

/**
 * A job uploaded to wait: what it is expected to cost, and the choice to start it. Nothing has
 * been spent; starting is a resume (POST /jobs/{id}/resume), not starting is a cancel.
 */
function StartCard({ job, orgId }: { job: Job; orgId: string }) {
  const queryClient = useQueryClient();
  const canStart = useCan('member');
  const start = useMutation({
    mutationFn: () => resumeJob(job.id),
    onSuccess: (started) => {
      queryClient.setQueryData(jobKeys.job(orgId, job.id), started);
      void queryClient.invalidateQueries({ queryKey: jobKeys.job(orgId, job.id) });
    },
  });
  const e = job.estimate;
  const overLimit = e !== null && job.max_credits !== null && e.credits > job.max_credits;
  return (
    <section className="card card__body start-card" aria-labelledby="start-heading">
      <h2 id="start-heading">Ready to start: check the cost</h2>
      {e ? (
        <dl className="counts">
          <div className="count">
            <dt>Companies</dt>
            <dd>{formatCount(job.total)}</dd>
          </div>
          <div className="count">
            <dt>Provider calls</dt>
            <dd>≤ {formatCount(e.provider_calls)}</dd>
          </div>
          <div className="count">
            <dt>Credits</dt>
            <dd>≤ {formatCount(e.credits)}</dd>
          </div>
          <div className="count">
            <dt>Cache hits</dt>
            <dd>{job.force_refresh ? 'cache skipped' : formatCount(e.cache_hits)}</dd>
          </div>
          <div className="count">
            <dt>Time</dt>
            <dd>
              {e.duration_seconds > 0
                ? `about ${formatDuration(e.duration_seconds * 1000)}`
                : 'under a second'}
            </dd>
          </div>
        </dl>
      ) : null}
      {e ? <ProviderWaterfall job={job} before /> : null}
      <p className="muted">
        {job.max_credits !== null ? `Credit limit: ${formatCount(job.max_credits)}. ` : 'No credit limit. '}
        {overLimit
          ? 'The estimate is above the limit: the job will pause when the limit is reached, with the rest left to do.'
          : 'Nothing has been spent yet.'}
      </p>
      {start.isError ? <p className="field__error">{errorMessage(start.error)}</p> : null}
      {canStart ? (
        <div className="start-card__actions">
          <button
            type="button"
            className="button button--primary"
            onClick={() => start.mutate()}
            disabled={start.isPending}
          >
            {start.isPending ? 'Starting…' : 'Start enrichment'}
          </button>
        </div>
      ) : null}
    </section>
  );
}

function JobErrorBanner({ job, orgId }: { job: Job; orgId: string }) {
  const queryClient = useQueryClient();
  const resume = useMutation({
    mutationFn: () => resumeJob(job.id),
    onSuccess: (resumed) => {
      queryClient.setQueryData(jobKeys.job(orgId, job.id), resumed);
      void queryClient.invalidateQueries({ queryKey: jobKeys.job(orgId, job.id) });
    },
  });
  const canResume = useCan('member');
  const error = job.error;
  if (!error) return null;
  // Paused at its credit limit, the job can only go on once the limit is raised or removed.
  const atCreditLimit = job.status === 'paused' && error.code === 'CREDIT_LIMIT_REACHED';
  return (
    <div role="alert" className="alert alert--warning">
      <div className="alert__body">
        <p className="alert__title">
          {job.status === 'paused'
            ? 'The job is paused'
            : job.status === 'failed'
              ? 'The file could not be read'
              : 'The job ran into a problem'}{' '}
          <span className="mono faint">{error.code}</span>
        </p>
        <p>{error.message}</p>
        {resume.isError ? <p className="field__error">{errorMessage(resume.error)}</p> : null}
        {atCreditLimit && canResume ? <CreditLimitForm job={job} orgId={orgId} /> : null}
      </div>
      {job.status === 'paused' && canResume && !atCreditLimit ? (
        <button
          type="button"
          className="button"
          onClick={() => resume.mutate()}
          disabled={resume.isPending}
          aria-describedby="resume-hint"
        >
          {resume.isPending ? 'Resuming…' : 'Resume'}
        </button>
      ) : null}
      <span id="resume-hint" className="visually-hidden">
        Continue the job once the problem is fixed
      </span>
    </div>
  );
}

export function JobSkeleton() {
  return (
    <div className="page" aria-busy="true">
      <p className="visually-hidden">Loading the job…</p>
      <div className="skeleton" style={{ height: 24, width: 280 }} />
      <div className="skeleton" style={{ height: 16, width: 420, maxWidth: '100%' }} />
      <div className="card card__body" style={{ height: 178 }} />
      <div className="card" style={{ height: 320 }} />
    </div>
  );
}
