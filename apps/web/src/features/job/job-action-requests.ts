/**
 * What a person does to a job after it started, as requests (the server's routes/job-actions.ts):
 * change its credit limit, resume it, cancel it, re-drive its failed companies.
 */
import { Job } from '@gtm-enrich/contracts';
import { api, call } from '@/lib/api';

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
