import { isJobFinished, JobList } from '@gtm-enrich/contracts';
import { infiniteQueryOptions } from '@tanstack/react-query';
import { api, call } from '@/lib/api';

export const JOBS_PAGE_SIZE = 20;
/** The list refreshes while one of its jobs still runs, slower than the job page does. */
const JOBS_LIST_POLL_MS = 4000;

export const jobsKeys = {
  all: ['jobs'] as const,
  list: (orgId: string) => ['jobs', orgId, 'list'] as const,
};

/** An organization's jobs, newest first, one page per "Load more" (`orgId` keys the cache: the key says which). */
export function jobsListQuery(orgId: string) {
  return infiniteQueryOptions({
    queryKey: jobsKeys.list(orgId),
    queryFn: ({ pageParam, signal }) =>
      call(
        api.GET('/api/v1/jobs', {
          params: { query: { limit: JOBS_PAGE_SIZE, cursor: pageParam ?? undefined } },
          signal,
        }),
        JobList,
        signal,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: (q) =>
      q.state.data?.pages.some((page) => page.data.some((job) => !isJobFinished(job)))
        ? JOBS_LIST_POLL_MS
        : false,
  });
}
