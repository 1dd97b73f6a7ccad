import {
  CompanyList,
  CompanyListQuery,
  ErrorBody,
  Job,
  JobList,
  JobListQuery,
  JobParams,
  OrgQuery,
} from '@gtm-enrich/contracts';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { companiesCsvStream, DEFAULT_CSV_FORMAT, rowsCsvStream } from '../../jobs/export-csv';
import type { JobsService } from '../../jobs/jobs.service';
import { createReadCoalescer } from '../coalesced-reads';
import { type AnswerCache, createAnswerCache, sendConditional, sendVersioned } from '../conditional';

const CONDITIONAL =
  'Answers carry an `ETag`; send it back as `If-None-Match` and an unchanged answer is `304 Not Modified` ' +
  'with no body (what a poll should do). JSON is gzip or brotli compressed for clients that accept it.';

const RejectedRowList = z.object({
  data: z.array(
    z.object({ row_number: z.number().int(), raw: z.string(), reason: z.string(), message: z.string() }),
  ),
  next_cursor: z.string().nullable(),
});
const RejectedQuery = OrgQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).optional(),
});

const ExportQuery = OrgQuery.extend({
  format: z
    .enum(['csv', 'source'])
    .default('csv')
    .describe(
      "`csv`: comma-separated UTF-8 with a BOM. `source`: the uploaded file's own delimiter and encoding " +
        '(a `;` file, a UTF-16 file), so the export opens where the upload came from.',
    ),
  layout: z
    .enum(['companies', 'rows'])
    .default('companies')
    .describe(
      '`companies`: one row per company with every field. `rows`: the uploaded file itself, every row and ' +
        'column in order under its own header, with the enrichment columns appended (a rejected row has ' +
        'status `rejected` and its reason).',
    ),
});

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
        querystring: RejectedQuery,
        response: { 200: RejectedRowList, 400: ErrorBody, 404: ErrorBody },
      },
    },
    (req) => jobs.listRejected(req.auth.orgId, req.params.jobId, req.query),
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
          200: z
            .unknown()
            .describe('CSV with a header row, one row per company or per file row, UTF-8 with BOM'),
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
          .send(rowsCsvStream(header, rows, format));
      }
      const { job, source, companies } = await jobs.exportCompanies(req.auth.orgId, req.params.jobId);
      const format = pick(source);
      return reply
        .header('content-type', `text/csv; charset=${format.encoding}`)
        .header('content-disposition', `attachment; filename="${csvName(job.filename, 'enriched')}"`)
        .send(companiesCsvStream(companies, format));
    },
  );
};
