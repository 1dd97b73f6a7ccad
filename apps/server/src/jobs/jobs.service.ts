import type { Company, CompanyListQuery, Job, JobList } from '@gtm-enrich/contracts';
import type { z } from 'zod';
import type { Database } from '../db/database';
import type { JobRow } from '../db/schema';
import { AppError } from '../errors';
import { decodeCursor, encodeCursor } from './cursor';
import type { Dispatcher } from './dispatcher';
import { estimateJob, type RateLimitSetting } from './estimate';
import { toCompanyResource, toJobResource } from './job-resources';
import {
  analyzeCompanies,
  countFreshCacheHits,
  ensureOrganization,
  findJob,
  insertCompanies,
  insertJob,
  insertRejectedRows,
  listCompanies,
  listJobs,
  listRejectedRows,
  resumeJob,
  setJobEstimate,
} from './jobs.repository';
import { jobUsages, NO_USAGE } from './ledger.repository';
import type { ParsedUpload } from './read-upload';

export type JobsServiceDeps = {
  db: Database;
  dispatcher: Dispatcher;
  provider: JobRow['provider'];
  cache: { ttlMs: number; noMatchTtlMs: number };
  rateLimit: RateLimitSetting;
  batchSize: number;
  parallelBatches: number;
};

export type UploadOptions = { forceRefresh?: boolean; maxCredits?: number };

const EXPORT_PAGE_ROWS = 1_000;
const ANALYZE_AFTER_COMPANIES = 1_000;
const REJECTION_SAMPLE_ROWS = 10;

type JobCursor = { t: string; id: string };
const isJobCursor = (v: unknown): v is JobCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as JobCursor).t === 'string' &&
  typeof (v as JobCursor).id === 'string';
const isRowCursor = (v: unknown): v is number => Number.isInteger(v);

export function createJobsService(deps: JobsServiceDeps) {
  const { db, dispatcher, provider } = deps;

  async function present(rows: JobRow[]): Promise<Job[]> {
    const usage = await jobUsages(
      db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toJobResource(r, usage.get(r.id) ?? NO_USAGE));
  }

  async function getRow(orgId: string, jobId: string): Promise<JobRow> {
    const row = await findJob(db, orgId, jobId);
    // Another organization's job answers exactly like a missing one.
    if (!row) throw new AppError('NOT_FOUND', `No job ${jobId} in organization ${orgId}.`);
    return row;
  }

  return {
    /** Job, company and rejected rows in one transaction; tasks are dispatched only after commit. */
    async createFromUpload(orgId: string, upload: ParsedUpload, options: UploadOptions = {}): Promise<Job> {
      if (upload.inputRows === 0) {
        throw new AppError('EMPTY_FILE', 'The file has a header but no data rows: add one domain per row.');
      }
      if (upload.companies.length === 0) {
        throw new AppError(
          'NO_VALID_DOMAINS',
          `None of the ${upload.inputRows} rows holds a usable company domain. See details.rejected for the first reasons.`,
          { rejected: upload.rejected.slice(0, REJECTION_SAMPLE_ROWS) },
        );
      }
      const job = await db.transaction(async (tx) => {
        await ensureOrganization(tx, orgId);
        const row = await insertJob(tx, {
          orgId,
          provider,
          filename: upload.filename,
          total: upload.companies.length,
          inputRows: upload.inputRows,
          rejectedRows: upload.rejected.length,
          forceRefresh: options.forceRefresh ?? false,
          maxCredits: options.maxCredits ?? null,
        });
        await insertCompanies(tx, orgId, row.id, upload.companies);
        await insertRejectedRows(tx, orgId, row.id, upload.rejected);
        const cacheHits = options.forceRefresh
          ? 0
          : await countFreshCacheHits(tx, row.id, { provider, ...deps.cache });
        const estimate = estimateJob({
          uniqueDomains: upload.companies.length,
          cacheHits,
          batchSize: deps.batchSize,
          rateLimit: deps.rateLimit,
          parallelBatches: deps.parallelBatches,
        });
        return setJobEstimate(tx, row.id, estimate);
      });
      if (upload.companies.length >= ANALYZE_AFTER_COMPANIES) await analyzeCompanies(db);
      dispatcher.dispatchJobInBackground(orgId, job.id);
      return toJobResource(job, NO_USAGE);
    },

    async get(orgId: string, jobId: string): Promise<Job> {
      const [job] = await present([await getRow(orgId, jobId)]);
      return job!;
    },

    async list(orgId: string, page: { limit: number; cursor?: string }): Promise<JobList> {
      const after = page.cursor ? decodeCursor(page.cursor, isJobCursor) : null;
      const rows = await listJobs(db, orgId, {
        limit: page.limit + 1,
        after: after ? { createdAt: new Date(after.t), id: after.id } : null,
      });
      const data = rows.slice(0, page.limit);
      const last = data[data.length - 1];
      return {
        data: await present(data),
        next_cursor:
          rows.length > page.limit && last
            ? encodeCursor({ t: last.createdAt.toISOString(), id: last.id })
            : null,
      };
    },

    async listCompanies(orgId: string, jobId: string, query: z.infer<typeof CompanyListQuery>) {
      await getRow(orgId, jobId);
      const afterRow = query.cursor ? decodeCursor(query.cursor, isRowCursor) : null;
      const rows = await listCompanies(db, orgId, jobId, {
        limit: query.limit + 1,
        afterRow,
        status: query.status,
        q: query.q,
      });
      const data = rows.slice(0, query.limit);
      const last = data[data.length - 1];
      return {
        data: data.map(toCompanyResource),
        next_cursor: rows.length > query.limit && last ? encodeCursor(last.rowNumber) : null,
      };
    },

    async listRejected(orgId: string, jobId: string, page: { limit: number; cursor?: string }) {
      await getRow(orgId, jobId);
      const afterRow = page.cursor ? decodeCursor(page.cursor, isRowCursor) : null;
      const rows = await listRejectedRows(db, orgId, jobId, { limit: page.limit + 1, afterRow });
      const data = rows.slice(0, page.limit);
      const last = data[data.length - 1];
      return {
        data: data.map((r) => ({
          row_number: r.rowNumber,
          raw: r.raw,
          reason: r.reason,
          message: r.message,
        })),
        next_cursor: rows.length > page.limit && last ? encodeCursor(last.rowNumber) : null,
      };
    },

    /** Every company of a job, read page by page so an export of a million rows stays small in memory. */
    async exportCompanies(
      orgId: string,
      jobId: string,
    ): Promise<{ job: Job; companies: AsyncIterable<Company> }> {
      const job = await getRow(orgId, jobId);
      async function* pages(): AsyncGenerator<Company> {
        let afterRow: number | null = null;
        for (;;) {
          const rows = await listCompanies(db, orgId, jobId, { limit: EXPORT_PAGE_ROWS, afterRow });
          for (const r of rows) yield toCompanyResource(r);
          if (rows.length < EXPORT_PAGE_ROWS) return;
          afterRow = rows[rows.length - 1]!.rowNumber;
        }
      }
      return { job: toJobResource(job, NO_USAGE), companies: pages() };
    },

    /** Continues a job paused by a provider problem (bad key, no credits) once it is fixed. */
    async resume(orgId: string, jobId: string): Promise<Job> {
      const row = await getRow(orgId, jobId);
      if (row.status !== 'paused') {
        throw new AppError(
          'CONFLICT',
          `Job ${jobId} is ${row.status}, not paused: there is nothing to resume.`,
        );
      }
      await resumeJob(db, orgId, jobId);
      dispatcher.dispatchJobInBackground(orgId, jobId);
      const [job] = await present([await getRow(orgId, jobId)]);
      return job!;
    },
  };
}

export type JobsService = ReturnType<typeof createJobsService>;
