import {
  CompanyList,
  CompanyListQuery,
  ErrorBody,
  ExportCsv,
  ExportQuery,
  Job,
  JobList,
  JobListQuery,
  JobParams,
  OrgQuery,
  RejectedRowList,
  RejectedRowListQuery,
} from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { companiesCsvStream, DEFAULT_CSV_FORMAT, rowsCsvStream } from '../../jobs/export-csv';
import type { JobsService } from '../../jobs/jobs.service';
import { createReadCoalescer } from '../coalesced-reads';
import { type AnswerCache, createAnswerCache, sendConditional, sendVersioned } from '../conditional';

const CONDITIONAL =
  'Answers carry an `ETag`; send it back as `If-None-Match` and an unchanged answer is `304 Not Modified` ' +
  'with no body (what a poll should do). JSON is gzip or brotli compressed for clients that accept it.';

export const jobRoutes: FastifyPluginAsyncZod<{ jobs: JobsService; answers?: AnswerCache }> = async (
  app,
  { jobs, answers = createAnswerCache() },
) => {
  // What the page polls: a job, and a page of its companies.
  const coalesce = createReadCoalescer();

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'listJobs',
        summary: "An organization's jobs, newest first",
        description: CONDITIONAL,
        querystring: JobListQuery,
        response: { 200: JobList, 400: ErrorBody },
      },
    },
    async (req, reply) => sendConditional(req, reply, answers, await jobs.list(req.auth.orgId, req.query)),
  );

  app.get(
    '/jobs/:jobId',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'getJob',
        summary: 'A job with its progress counters',
        description: CONDITIONAL,
        params: JobParams,
        querystring: OrgQuery,
        response: { 200: Job, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const { orgId } = req.auth;
      const { jobId } = req.params;
      const job = await coalesce(`job ${orgId} ${jobId}`, () => jobs.get(orgId, jobId));
      return sendConditional(req, reply, answers, job);
    },
  );

  app.get(
    '/jobs/:jobId/companies',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'listJobCompanies',
        summary:
          "A page of a job's companies, in the file's order or sorted by any column (keyset pagination)",
        description: CONDITIONAL,
        params: JobParams,
        querystring: CompanyListQuery,
        response: { 200: CompanyList, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const { orgId } = req.auth;
      const { jobId } = req.params;
      // Everything the page depends on: whose, which job, every parameter, the rows' versions.
      const page = `companies ${orgId} ${jobId} ${JSON.stringify(req.query)}`;
      return sendVersioned(
        req,
        reply,
        answers,
        (version) => `${page} ${version}`,
        () => coalesce(`${page} version`, () => jobs.companiesVersion(orgId, jobId, req.query)),
        () =>
          coalesce(`${page} rows`, async () => {
            const { page: body, version } = await jobs.listCompanies(orgId, jobId, req.query);
            return { body, version };
          }),
      );
    },
  );

  app.get(
    '/jobs/:jobId/rejected',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'listJobRejectedRows',
        summary: 'Rows of the file that had no usable domain, with the reason',
        params: JobParams,
        querystring: RejectedRowListQuery,
        response: { 200: RejectedRowList, 400: ErrorBody, 404: ErrorBody },
      },
    },
    (req) => jobs.listRejected(req.auth.orgId, req.params.jobId, req.query),
  );

  app.get(
    '/jobs/:jobId/export.csv',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'exportJobCsv',
        summary: 'Every company of the job with every field, as CSV',
        params: JobParams,
        querystring: ExportQuery,
        produces: ['text/csv'],
        response: {
          200: ExportCsv,
          400: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const csvName = (filename: string | null, suffix: string) =>
        `${(filename ?? 'companies').replace(/\.csv$/i, '').replace(/[^\w.-]+/g, '_')}-${suffix}.csv`;
      const pick = (source: typeof DEFAULT_CSV_FORMAT) =>
        req.query.format === 'source' ? source : DEFAULT_CSV_FORMAT;
      if (req.query.layout === 'rows') {
        const { job, source, header, rows } = await jobs.exportRows(req.auth.orgId, req.params.jobId);
        const format = pick(source);
        return reply
          .header('content-type', `text/csv; charset=${format.encoding}`)
          .header('content-disposition', `attachment; filename="${csvName(job.filename, 'rows-enriched')}"`)
          .send(rowsCsvStream(header, rows, format, { provenance: req.query.provenance }));
      }
      const { job, source, companies } = await jobs.exportCompanies(req.auth.orgId, req.params.jobId);
      const format = pick(source);
      return reply
        .header('content-type', `text/csv; charset=${format.encoding}`)
        .header('content-disposition', `attachment; filename="${csvName(job.filename, 'enriched')}"`)
        .send(companiesCsvStream(companies, format, { provenance: req.query.provenance }));
    },
  );
};
