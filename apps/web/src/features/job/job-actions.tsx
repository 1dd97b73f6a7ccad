'use client';

import type { Job } from '@gtm-enrich/contracts';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '@/lib/api';
import { useCan } from '@/lib/org';
import { cancelJob, retryJob } from './job-action-requests';
import { jobKeys } from './queries';

/**
 * Stop a job, or re-drive its dead letters (failed companies; not-found ones on request). Members
 * and admins only; each button shows only when it can do something.
 */
export function JobActions({ job, orgId }: { job: Job; orgId: string }) {
  const queryClient = useQueryClient();
  const canAct = useCan('member');
  const onDone = (updated: Job) => {
    queryClient.setQueryData(jobKeys.job(orgId, job.id), updated);
    void queryClient.invalidateQueries({ queryKey: jobKeys.companies(orgId, job.id) });
  };
  const cancel = useMutation({ mutationFn: () => cancelJob(job.id), onSuccess: onDone });
  const retry = useMutation({
    mutationFn: (includeNotFound: boolean) => retryJob(job.id, includeNotFound),
    onSuccess: onDone,
  });
  if (!canAct) return null;

  const active = job.status === 'queued' || job.status === 'running' || job.status === 'paused';
  const canRetry = job.status === 'running' || job.status === 'completed';
  const error = cancel.error ?? retry.error;
  return (
    <>
      {error ? (
        <span role="alert" className="field__error">
          {errorMessage(error)}
        </span>
      ) : null}
      {canRetry && job.counts.failed > 0 ? (
        <button
          type="button"
          className="button"
          disabled={retry.isPending}
          onClick={() => retry.mutate(false)}
          title="Send the failed companies back to the queue with fresh attempts"
        >
          {retry.isPending ? 'Retrying…' : `Retry ${job.counts.failed} failed`}
        </button>
      ) : null}
      {canRetry && job.counts.not_found > 0 ? (
        <button
          type="button"
          className="button"
          disabled={retry.isPending}
          onClick={() => retry.mutate(true)}
          title="Ask the provider again for the companies it did not match (skips the cache)"
        >
          Ask again for {job.counts.not_found} not found
        </button>
      ) : null}
      {active ? (
        <button
          type="button"
          className="button"
          disabled={cancel.isPending}
          onClick={() => {
            if (window.confirm('Cancel this job? Companies not yet enriched will be cancelled.'))
              cancel.mutate();
          }}
        >
          {cancel.isPending ? 'Cancelling…' : 'Cancel job'}
        </button>
      ) : null}
    </>
  );
}
