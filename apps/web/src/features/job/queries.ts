import {
  type Company,
  CompanyList,
  type CompanySort,
  type CompanyStatus,
  isJobFinished,
  Job,
  RejectedRowList,
} from '@gtm-enrich/contracts';
import {
  type InfiniteData,
  infiniteQueryOptions,
  type QueryClient,
  queryOptions,
} from '@tanstack/react-query';
import { api, apiDownload, call } from '@/lib/api';

/**
 * How often a job that is not settled is polled: its counters make each poll one cheap row read,
 * and an unchanged answer is a 304 with no body (the browser sends the ETag it has).
 */
export const JOB_POLL_MS = 2000;
/**
 * Rows are asked for again from the newest change seen minus this: a change is visible when its
 * transaction commits, which can be a moment after the time it carries.
 */
const CHANGE_OVERLAP_MS = 5_000;
/** Changed rows fetched per poll at most; more than that and the loaded pages are read again. */
const CHANGES_LIMIT = 500;
/** The first page (the one in view while a job runs); later pages are larger, read while scrolling. */
export const COMPANIES_PAGE_SIZE = 50;
export const COMPANIES_NEXT_PAGE_SIZE = 500;
const REJECTED_PAGE_SIZE = 100;

export type CompanyFilter = {
  status: CompanyStatus | null;
  q: string;
  sort: CompanySort;
  /** 0–1: only companies whose match confidence is at least this (those without one are left out). */
  minConfidence: number | null;
};

export const jobKeys = {
  job: (orgId: string, jobId: string) => ['job', orgId, jobId] as const,
  companies: (orgId: string, jobId: string) => ['job', orgId, jobId, 'companies'] as const,
  companiesPage: (orgId: string, jobId: string, filter: CompanyFilter) =>
    ['job', orgId, jobId, 'companies', filter] as const,
  rejected: (orgId: string, jobId: string) => ['job', orgId, jobId, 'rejected'] as const,
  changes: (orgId: string, jobId: string, filter: CompanyFilter) =>
    ['job', orgId, jobId, 'changes', filter] as const,
};

/**
 * Settled: finished, and nothing still being enriched. A cancelled job keeps finishing the
 * companies already at the provider, so it is polled until none is processing.
 */
export function isJobSettled(job: Job | undefined): boolean {
  return job !== undefined && isJobFinished(job) && job.counts.processing === 0;
}

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
      isJobSettled(q.state.data) || (q.state.status === 'error' && q.state.data === undefined)
        ? false
        : JOB_POLL_MS,
  });
}

/**
 * A job's companies in the chosen order, one keyset page per "Load more". Loaded pages are not
 * polled: companiesChangesQuery brings the rows that changed and mergeChanges puts them in place.
 */
export function companiesQuery(orgId: string, jobId: string, filter: CompanyFilter) {
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
              min_confidence: filter.minConfidence ?? undefined,
              sort: filter.sort,
              limit: pageParam ? COMPANIES_NEXT_PAGE_SIZE : COMPANIES_PAGE_SIZE,
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
  });
}

type CompanyPages = InfiniteData<CompanyList, string | null>;

/** Row numbers of the first and last rows in view (file order), or null when none is. */
export type VisibleRows = () => { first: number; last: number } | null;

/**
 * The rows changed since the newest change the loaded pages hold (minus the overlap), merged in
 * place. In file order only the rows in view are asked for (a row scrolled into view is fresh at
 * the next poll), so a tab on a running job costs the changes of a screenful, not of every
 * loaded row; in another order the loaded rows' changes come (a sorted view costs more).
 * Enabled while the job is not settled.
 */
export function companiesChangesQuery(
  queryClient: QueryClient,
  orgId: string,
  jobId: string,
  filter: CompanyFilter,
  live: boolean,
  visible: VisibleRows,
) {
  const key = jobKeys.changes(orgId, jobId, filter);
  return queryOptions({
    queryKey: key,
    enabled: live,
    // Not polled on its own: asked again when the job's answer changes (see CompaniesTable). A
    // company's visible change moves the job's counters in the same transaction, so a job that
    // has not changed has no row to fetch; one missed anyway comes with the next change (the
    // cursor only moves with rows seen), and every row is read again when the job settles.
    staleTime: Number.POSITIVE_INFINITY,
    queryFn: async ({ signal }) => {
      const pagesKey = jobKeys.companiesPage(orgId, jobId, filter);
      const rows = queryClient.getQueryData<CompanyPages>(pagesKey)?.pages.flatMap((p) => p.data) ?? [];
      if (rows.length === 0) return { rows: [] as Company[], complete: true };
      const fileOrder = filter.sort === 'row_number';
      const inView = fileOrder ? visible() : null;
      const id = JSON.stringify(key);
      const covered = coveredRows.get(id);
      // Rows that come into view may have changed while out of it, before the cursor: they are
      // read whole once (a screenful), then followed by their changes.
      const whole =
        inView !== null && !(covered && covered.first <= inView.first && covered.last >= inView.last);
      const newest = rows.reduce((max, c) => (c.updated_at > max ? c.updated_at : max), rows[0]!.updated_at);
      const changed = await call(
        api.GET('/api/v1/jobs/{jobId}/companies', {
          params: {
            path: { jobId },
            query: {
              updated_since: whole
                ? undefined
                : new Date(new Date(newest).getTime() - CHANGE_OVERLAP_MS).toISOString(),
              min_row: inView?.first,
              max_row: inView?.last ?? (fileOrder ? rows[rows.length - 1]!.row_number : undefined),
              limit: CHANGES_LIMIT,
            },
          },
          signal,
        }),
        CompanyList,
        signal,
      );
      if (inView) coveredRows.set(id, inView);
      const complete = changed.next_cursor === null;
      mergeChanges(queryClient, pagesKey, changed.data, complete);
      return { rows: changed.data, complete };
    },
  });
}

/** Per changes query: the rows (file order) whose changes it follows, since they were last read whole. */
const coveredRows = new Map<string, { first: number; last: number }>();

/**
 * Puts changed rows in place in the loaded pages: only pages holding one get a new object, so
 * React re-renders those rows and no other. A row whose change moves it out of a sorted or
 * filtered view stays where it is until the view is read again (the job's end reads it again).
 * More changes than one answer holds: the pages are read again.
 */
export function mergeChanges(
  queryClient: QueryClient,
  key: readonly unknown[],
  changed: Company[],
  complete: boolean,
) {
  if (!complete) {
    void queryClient.invalidateQueries({ queryKey: key, exact: true });
    return;
  }
  if (changed.length === 0) return;
  const byId = new Map(changed.map((c) => [c.id, c]));
  queryClient.setQueryData<CompanyPages>(key, (old) => {
    if (!old) return old;
    let touched = false;
    const pages = old.pages.map((page) => {
      let pageTouched = false;
      const data = page.data.map((c) => {
        const next = byId.get(c.id);
        if (!next || next.updated_at === c.updated_at) return c;
        pageTouched = true;
        return next;
      });
      if (!pageTouched) return page;
      touched = true;
      return { ...page, data };
    });
    return touched ? { ...old, pages } : old;
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

export type ExportLayout = 'companies' | 'rows';

/**
 * The job as CSV, saved by the browser (fetched with the key: a link cannot send it): one row per
 * company, or the uploaded file row for row with the enrichment columns appended; with
 * `provenance`, a provider and a fetched-at column per enriched field too.
 */
export function downloadExport(job: Job, layout: ExportLayout, provenance = false): Promise<void> {
  const base = (job.filename ?? 'companies').replace(/\.csv$/i, '');
  const query = new URLSearchParams({ layout, ...(provenance ? { provenance: '1' } : {}) });
  return apiDownload(
    `/api/v1/jobs/${encodeURIComponent(job.id)}/export.csv?${query.toString()}`,
    `${base}${layout === 'rows' ? '-rows' : ''}-enriched${provenance ? '-provenance' : ''}.csv`,
  );
}
