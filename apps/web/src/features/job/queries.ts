import { Company, CompanyList, type CompanyStatus, isJobFinished, Job } from '@gtm-enrich/contracts';
import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { api, apiDownload, call } from '@/lib/api';

/** How often a job that is not finished is polled; its counters make each poll one cheap row read. */
export const JOB_POLL_MS = 1500;
export const COMPANIES_PAGE_SIZE = 50;
const REJECTED_PAGE_SIZE = 100;

/**
 * The API's rejected-rows page has no schema in contracts yet (it is declared in the server's
 * route file); until it moves there it is assembled from contract fields of the same types.
 */
const RejectedRow = Company.pick({ row_number: true }).extend({
  raw: Company.shape.input,
  reason: Company.shape.domain,
  message: Company.shape.domain,
});
const RejectedRowList = CompanyList.extend({ data: RejectedRow.array() });

export type CompanyFilter = { status: CompanyStatus | null; q: string };

export const jobKeys = {
  job: (orgId: string, jobId: string) => ['job', orgId, jobId] as const,
  companies: (orgId: string, jobId: string) => ['job', orgId, jobId, 'companies'] as const,
  companiesPage: (orgId: string, jobId: string, filter: CompanyFilter) =>
    ['job', orgId, jobId, 'companies', filter] as const,
  rejected: (orgId: string, jobId: string) => ['job', orgId, jobId, 'rejected'] as const,
};

/**
 * A job with its counters; polled until it is finished, then left alone. A job that could
 * not be loaded at all (wrong id or organization) is not polled either.
 */
export function jobQuery(orgId: string, jobId: string) {
  return queryOptions({
    queryKey: jobKeys.job(orgId, jobId),
    queryFn: ({ signal }) =>
      call(api.GET('/api/v1/jobs/{jobId}', { params: { path: { jobId } }, signal }), Job, signal),
    refetchInterval: (q) =>
      isJobFinished(q.state.data) || (q.state.status === 'error' && q.state.data === undefined)
        ? false
        : JOB_POLL_MS,
  });
}

/**
 * A job's companies in file order, one keyset page per "Load more". `live` keeps the loaded
 * pages fresh while the job runs.
 */
export function companiesQuery(orgId: string, jobId: string, filter: CompanyFilter, live: boolean) {
  return infiniteQueryOptions({
    queryKey: jobKeys.companiesPage(orgId, jobId, filter),
    queryFn: ({ pageParam, signal }) =>
      call(
        api.GET('/api/v1/jobs/{jobId}/companies', {
          params: {
            path: { jobId },
            query: {
              status: filter.status ?? undefined,
              q: filter.q || undefined,
              limit: COMPANIES_PAGE_SIZE,
              cursor: pageParam ?? undefined,
            },
          },
          signal,
        }),
        CompanyList,
        signal,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: live ? JOB_POLL_MS : false,
  });
}

export function rejectedRowsQuery(orgId: string, jobId: string) {
  return infiniteQueryOptions({
    queryKey: jobKeys.rejected(orgId, jobId),
    queryFn: ({ pageParam, signal }) =>
      call(
        api.GET('/api/v1/jobs/{jobId}/rejected', {
          params: { path: { jobId }, query: { limit: REJECTED_PAGE_SIZE, cursor: pageParam ?? undefined } },
          signal,
        }),
        RejectedRowList,
        signal,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
  });
}

/** Queued companies become cancelled; companies being enriched finish. */
export function cancelJob(jobId: string): Promise<Job> {
  return call(api.POST('/api/v1/jobs/{jobId}/cancel', { params: { path: { jobId } } }), Job);
}

/** Failed companies (and not-found ones when asked) go back to the queue with fresh attempts. */
export function retryJob(jobId: string, includeNotFound: boolean): Promise<Job> {
  return call(
    api.POST('/api/v1/jobs/{jobId}/retry', {
      params: { path: { jobId } },
      body: { include_not_found: includeNotFound },
    }),
    Job,
  );
}

/** Raises, lowers or (null) removes the job's credit limit; a job paused at it stays paused until resumed. */
export function setCreditLimit(jobId: string, maxCredits: number | null): Promise<Job> {
  return call(
    api.PATCH('/api/v1/jobs/{jobId}', { params: { path: { jobId } }, body: { max_credits: maxCredits } }),
    Job,
  );
}

export function resumeJob(jobId: string): Promise<Job> {
  return call(api.POST('/api/v1/jobs/{jobId}/resume', { params: { path: { jobId } } }), Job);
}

export type ExportLayout = 'companies' | 'rows';

/**
 * The job as CSV, saved by the browser (fetched with the key: a link cannot send it): one row per
 * company, or the uploaded file row for row with the enrichment columns appended.
 */
export function downloadExport(job: Job, layout: ExportLayout): Promise<void> {
  const base = (job.filename ?? 'companies').replace(/\.csv$/i, '');
  return apiDownload(
    `/api/v1/jobs/${encodeURIComponent(job.id)}/export.csv?layout=${layout}`,
    layout === 'rows' ? `${base}-rows-enriched.csv` : `${base}-enriched.csv`,
  );
}
