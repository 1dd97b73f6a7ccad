import { ErrorBody, Job, JobParams, OrgQuery, RetryBody, UpdateJobBody } from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { JobsService } from '../../jobs/jobs.service';

/** What a person does to a job after it started: change its limit, resume it, stop it, or re-drive its dead letters. */
export const jobActionRoutes: FastifyPluginAsyncZod<{ jobs: JobsService }> = async (app, { jobs }) => {
  app.patch(
    '/jobs/:jobId',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'updateJob',
        summary: 'Raise, lower or remove the credit limit (max_credits) of a job that has not finished',
        description:
          'A job paused at its limit (error code `CREDIT_LIMIT_REACHED`) stays paused: raise or remove the ' +
          'limit here, then `POST /jobs/{id}/resume`. 409 for a finished job; 422 for a limit that is not above ' +
          'the credits already spent (plus those held by calls in flight).',
        params: JobParams,
        querystring: OrgQuery,
        body: UpdateJobBody,
        response: { 200: Job, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody },
      },
    },
    (req) => jobs.updateLimits(req.auth.orgId, req.params.jobId, { maxCredits: req.body.max_credits }),
  );

  app.post(
    '/jobs/:jobId/resume',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'resumeJob',
        summary: 'Continue a paused job once its problem is fixed (bad key, no credits, credit limit raised)',
        description:
          'A job paused at its credit limit (`CREDIT_LIMIT_REACHED`) needs the limit raised or removed first ' +
          '(`PATCH /jobs/{id}`), else 409. A job whose companies have all finished completes.',
        params: JobParams,
        querystring: OrgQuery,
        response: { 200: Job, 404: ErrorBody, 409: ErrorBody },
      },
    },
    (req) => jobs.resume(req.auth.orgId, req.params.jobId),
  );

  app.post(
    '/jobs/:jobId/cancel',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob',
        summary: 'Stop a job: queued companies are cancelled, companies being enriched finish',
        params: JobParams,
        querystring: OrgQuery,
        response: { 200: Job, 404: ErrorBody, 409: ErrorBody },
      },
    },
    (req) => jobs.cancel(req.auth.orgId, req.params.jobId),
  );

  app.post(
    '/jobs/:jobId/retry',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'retryJob',
        summary: 'Re-drive failed companies (and not-found ones when asked) with fresh attempts',
        params: JobParams,
        querystring: OrgQuery,
        body: RetryBody,
        response: { 200: Job, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    (req) =>
      jobs.retry(req.auth.orgId, req.params.jobId, {
        includeNotFound: req.body?.include_not_found ?? false,
      }),
  );
};
