import type { Company, CompanyListQuery, Job, JobList } from '@gtm-enrich/contracts';
import type { z } from 'zod';
import type { CopyTransaction } from '../db/copy';
import type { Database } from '../db/database';
import type { JobRow } from '../db/schema';
import { AppError } from '../errors';
import { decodeCursor, encodeCursor } from './cursor';
import type { Dispatcher } from './dispatcher';
import { estimateJob, type RateLimitSetting } from './estimate';
import type { FileRow } from './export-csv';
import { claimIdempotencyKey, findIdempotencyKey } from './idempotency.repository';
import { toCompanyResource, toJobResource } from './job-resources';
import {
  copyJobRows,
  finishUploadedJob,
  insertCompaniesFromRows,
  insertRejectedFromRows,
  listRowsWithCompanies,
  sampleRejectedRows,
} from './job-rows.repository';
import {
  analyzeCompanies,
  cancelJob,
  countFreshCacheHits,
  ensureOrganization,
  findJob,
  insertJob,
  listCompanies,
  listJobs,
  listRejectedRows,
  requeueFinishedCompanies,
  resumeJob,
  setJobEstimate,
} from './jobs.repository';
import { jobUsages, NO_USAGE } from './ledger.repository';
import type { OpenedUpload, UploadResult } from './read-upload';

export type JobsServiceDeps = {
  db: Database;
  /** A transaction that can COPY: an upload's rows stream into the database inside it. */
  copyTransaction: CopyTransaction;
  dispatcher: Dispatcher;
  provider: JobRow['provider'];
  cache: { ttlMs: number; noMatchTtlMs: number };
  rateLimit: RateLimitSetting;
  batchSize: number;
  parallelBatches: number;
};

export type UploadOptions = { forceRefresh?: boolean; maxCredits?: number };

/** An upload sent with an Idempotency-Key; the hash is known once the whole request was read. */
export type UploadIdempotency = { key: string; requestHash: () => string };

class IdempotencyKeyTaken extends Error {}

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

  async function replay(orgId: string, key: string, requestHash: string): Promise<UploadResult> {
    const first = await findIdempotencyKey(db, orgId, key);
    if (!first) throw new Error('an idempotency key reported taken was not found');
    if (first.requestHash !== requestHash) {
      throw new AppError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was already used with a different request (another file or other fields). ' +
          'Use a new key for a new upload.',
      );
    }
    return { job: first.response, replayed: true };
  }

  async function getRow(orgId: string, jobId: string): Promise<JobRow> {
    const row = await findJob(db, orgId, jobId);
    // Another organization's job answers exactly like a missing one.
    if (!row)
      throw new AppError(
        'NOT_FOUND',
        "No such job in this organization (check the id, and that the API key is of the job's organization).",
      );
    return row;
  }

  return {
    /**
     * Streams the upload's rows into the database (COPY) and makes one company per unique domain
     * and one rejected row per unusable one, all in one transaction: a failure anywhere, the
     * client going away included, leaves nothing behind. Tasks are dispatched only after commit.
     * `options` may be a function, called once the rows are read (form fields sent after the file).
     */
    async createFromUpload(
      orgId: string,
      upload: OpenedUpload,
      options: UploadOptions | (() => Promise<UploadOptions>) = {},
      idempotency?: UploadIdempotency,
    ): Promise<UploadResult> {
      let requestHash = '';
      const created = await deps
        .copyTransaction(async (tx, copy) => {
          await ensureOrganization(tx, orgId);
          const created = await insertJob(tx, {
            orgId,
            provider,
            filename: upload.filename,
            total: 0,
            inputRows: 0,
            rejectedRows: 0,
          });
          await copyJobRows(copy, created.id, upload.rows);
          const opts = typeof options === 'function' ? await options() : options;
          const { inputRows, rejectedRows, maxColumns } = upload.stats;
          if (inputRows === 0) {
            throw new AppError(
              'EMPTY_FILE',
              'The file has a header but no data rows: add one domain per row.',
            );
          }
          const idx = upload.domainColumnIndex;
          const total = await insertCompaniesFromRows(tx, orgId, created.id, idx);
          if (total === 0) {
            throw new AppError(
              'NO_VALID_DOMAINS',
              `None of the ${inputRows} rows holds a usable company domain. See details.rejected for the first reasons.`,
              { rejected: await sampleRejectedRows(tx, created.id, idx, REJECTION_SAMPLE_ROWS) },
            );
          }
          await insertRejectedFromRows(tx, orgId, created.id, idx);
          const row = await finishUploadedJob(tx, created.id, {
            total,
            inputRows,
            rejectedRows,
            inputHeader: [...upload.header, ...Array<string>(maxColumns - upload.header.length).fill('')],
            forceRefresh: opts.forceRefresh ?? false,
            maxCredits: opts.maxCredits ?? null,
          });
          const cacheHits = opts.forceRefresh
            ? 0
            : await countFreshCacheHits(tx, row.id, { provider, ...deps.cache });
          const estimate = estimateJob({
            uniqueDomains: total,
            cacheHits,
            batchSize: deps.batchSize,
            rateLimit: deps.rateLimit,
            parallelBatches: deps.parallelBatches,
          });
          const job = await setJobEstimate(tx, row.id, estimate);
          if (idempotency) {
            requestHash = idempotency.requestHash();
            const response = toJobResource(job, NO_USAGE);
            const claimed = await claimIdempotencyKey(tx, {
              orgId,
              key: idempotency.key,
              requestHash,
              jobId: job.id,
              response,
            });
            // Taken by an earlier request: undo this one and answer as that one was answered.
            if (!claimed) throw new IdempotencyKeyTaken();
          }
          return { job, total };
        })
        .catch((err: unknown) => {
          if (err instanceof IdempotencyKeyTaken) return null;
          throw err;
        });
      if (created === null) return replay(orgId, idempotency!.key, requestHash);
      const { job, total } = created;
      if (total >= ANALYZE_AFTER_COMPANIES) await analyzeCompanies(db);
      dispatcher.dispatchJobInBackground(orgId, job.id);
      return { job: toJobResource(job, NO_USAGE), replayed: false };
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

    /**
     * Every row of the job's file in order, as written, each with its company (none for a rejected
     * row), read page by page. CONFLICT for a job made before rows were kept.
     */
    async exportRows(
      orgId: string,
      jobId: string,
    ): Promise<{ job: Job; header: string[]; rows: AsyncIterable<FileRow> }> {
      const job = await getRow(orgId, jobId);
      if (!job.inputHeader) {
        throw new AppError(
          'CONFLICT',
          `Job ${jobId} was created before uploaded rows were kept, so it has no row-level export: use layout=companies.`,
        );
      }
      async function* pages(): AsyncGenerator<FileRow> {
        let afterRow: number | null = null;
        for (;;) {
          const rows = await listRowsWithCompanies(db, orgId, jobId, { limit: EXPORT_PAGE_ROWS, afterRow });
          for (const r of rows) yield { ...r, company: r.company && toCompanyResource(r.company) };
          if (rows.length < EXPORT_PAGE_ROWS) return;
          afterRow = rows[rows.length - 1]!.rowNumber;
        }
      }
      return { job: toJobResource(job, NO_USAGE), header: job.inputHeader, rows: pages() };
    },

    /** Stops a job: queued companies are cancelled, companies being enriched finish. */
    async cancel(orgId: string, jobId: string): Promise<Job> {
      const row = await getRow(orgId, jobId);
      if (!(await cancelJob(db, orgId, jobId))) {
        throw new AppError('CONFLICT', `Job ${jobId} is already ${row.status}: there is nothing to cancel.`);
      }
      const [job] = await present([await getRow(orgId, jobId)]);
      return job!;
    },

    /**
     * Re-drives a job's dead letters: failed companies (and not-found ones when asked, skipping the
     * enrichment cache for them) go back to the queue with fresh attempts.
     */
    async retry(orgId: string, jobId: string, opts: { includeNotFound: boolean }): Promise<Job> {
      const row = await getRow(orgId, jobId);
      if (row.status !== 'running' && row.status !== 'completed') {
        throw new AppError(
          'CONFLICT',
          `Job ${jobId} is ${row.status}: only a running or completed job can retry its companies${row.status === 'paused' ? ' (resume it first)' : ''}.`,
        );
      }
      const requeued = await requeueFinishedCompanies(db, orgId, jobId, opts);
      if (requeued > 0) dispatcher.dispatchJobInBackground(orgId, jobId);
      const [job] = await present([await getRow(orgId, jobId)]);
      return job!;
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
