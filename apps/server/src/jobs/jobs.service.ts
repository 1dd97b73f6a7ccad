import { createHash } from 'node:crypto';
import type {
  Company,
  CompanyList,
  CompanyListQuery,
  CompanySortKey,
  Job,
  JobList,
  ProviderName,
} from '@gtm-enrich/contracts';
import type { z } from 'zod';
import type { CopyTransaction } from '../db/copy';
import { decodeCursor, encodeCursor, isJobCursor, isRowCursor } from '../db/cursor';
import type { Database } from '../db/database';
import type { JobRow } from '../db/schema';
import type { Dispatcher } from '../dispatch/dispatcher';
import type { CacheScope } from '../enrichment/enrichment-cache.sql';
import {
  CREDIT_LIMIT_REACHED,
  jobCredits,
  jobUsages,
  NO_USAGE,
  setJobMaxCredits,
} from '../enrichment/ledger.repository';
import { AppError } from '../errors';
import {
  claimIdempotencyKey,
  findIdempotencyKey,
  setIdempotentResponse,
} from '../intake/idempotency.repository';
import {
  countRejectionReasons,
  finishUploadedJob,
  hasRowsInJobRows,
  joinRowsWithCompanies,
  listRowsWithCompanies,
  sampleRejectedRows,
  writeUploadRows,
} from '../intake/job-rows.repository';
import type { UploadOpenOptions, UploadReader, UploadResult } from '../intake/read-upload';
import {
  deleteIngestingJob,
  failIngestingJob,
  insertIngestingJob,
  listUnreadUploads,
  lockIngestingJob,
  type RejectedSample,
  readUploadChunks,
  setAcceptedUpload,
  storeUploadChunks,
} from '../intake/stored-upload.repository';
import type { TaskQueue } from '../queue/task-queue';
import { companyCursorFor } from './company-cursor';
import { estimateWaterfall, type RateLimitSetting } from './estimate';
import { type CsvFormat, DEFAULT_CSV_FORMAT, type FileRow } from './export-csv';
import { toCompanyResource, toJobResource } from './job-resources';
import {
  analyzeCompanies,
  type CompanyPageQuery,
  cancelJob,
  countFreshCacheHits,
  ensureOrganization,
  findJob,
  findJobWithUsage,
  listCompanies,
  listCompaniesSorted,
  listCompanyVersions,
  listJobs,
  listRejectedRows,
  requeueFinishedCompanies,
  resumeJob,
  setJobEstimate,
} from './jobs.repository';

export type JobsServiceDeps = {
  db: Database;
  /**
   * The active trace's W3C context (the upload request's), kept with the job so that whichever
   * process dispatches its companies continues that trace; undefined when tracing is off.
   */
  traceContext?: () => { traceparent: string; tracestate?: string } | undefined;
  /** A transaction that can COPY: an upload's rows stream into the database inside it. */
  copyTransaction: CopyTransaction;
  dispatcher: Dispatcher;
  queue: TaskQueue;
  reader: UploadReader;
  /** Uploads of at most this many rows are read before the answer; larger ones in the background. */
  inlineMaxRows: number;
  providers: {
    /** Every provider this installation can ask, with what its estimate needs. */
    available: ReadonlyMap<ProviderName, ProviderEstimateSettings>;
    /** The waterfall of an upload that names none (ENRICHMENT_PROVIDERS). */
    defaults: readonly ProviderName[];
  };
  /** Freshness and scope of the enrichment cache (estimates count only entries the job's organization may read). */
  cache: { ttlMs: number; noMatchTtlMs: number; scope: CacheScope };
};

/** What a job's estimate needs to know of one provider. */
export type ProviderEstimateSettings = {
  rateLimit: RateLimitSetting;
  batchSize: number;
  /** Calls a batch costs at the provider (2: match and enrich; 1 where matching is local). */
  callsPerBatch: number;
  creditsPerRecord: number;
  parallelBatches: number;
};

export type UploadOptions = {
  forceRefresh?: boolean;
  maxCredits?: number;
  /** The form's domain_column, wherever it was sent (before the file, it was used to check it). */
  domainColumn?: string | undefined;
  /** false: the job waits with its estimate (paused, AWAITING_START) until resumed. */
  start?: boolean | undefined;
  /** The form's waterfall (checked against the available providers with `checkProviders`). */
  providers?: ProviderName[] | undefined;
};

/** An upload sent with an Idempotency-Key, and the request's fingerprint (its file and every field). */
export type UploadIdempotency = { key: string; requestHash: string };

/** An upload whose file is stored in a transaction still open: finish it with the form's fields, or abandon it. */
export type OpenUpload = {
  finish(options: UploadOptions, idempotency?: UploadIdempotency): Promise<UploadResult>;
  /** Nothing is kept; `reason` is what the transaction is rolled back with. */
  abandon(reason: unknown): Promise<void>;
};

class IdempotencyKeyTaken extends Error {}

/**
 * A file larger than this is read in the background whatever its row count: a few hundred rows of
 * 1 MiB each take as long to read as a million short ones.
 */
const INLINE_MAX_BYTES = 16 * 1024 * 1024;
const EXPORT_PAGE_ROWS = 1_000;
const EXPORT_FIRST_PAGE_ROWS = 50;
/** Cells (as JSON) per page of the row export: a page of 1 MiB rows holds a few, not a thousand. */
const EXPORT_PAGE_BYTES = 4 * 1024 * 1024;
const ANALYZE_AFTER_COMPANIES = 1_000;
const REJECTION_SAMPLE_ROWS = 10;

const ingestTask = (orgId: string, jobId: string) => ({ id: `ingest-${jobId}`, payload: { orgId, jobId } });

const SOURCE_ENCODINGS: readonly string[] = [
  'utf-8',
  'utf-16le',
  'utf-16be',
] satisfies CsvFormat['encoding'][];

/** The uploaded file's own delimiter and encoding (comma UTF-8 for jobs made before they were kept). */
function sourceFormat(job: JobRow): CsvFormat {
  const encoding = job.inputEncoding ?? '';
  return {
    delimiter: job.inputDelimiter ?? DEFAULT_CSV_FORMAT.delimiter,
    encoding: SOURCE_ENCODINGS.includes(encoding)
      ? (encoding as CsvFormat['encoding'])
      : DEFAULT_CSV_FORMAT.encoding,
  };
}

/** The API's companies query as listCompaniesSorted takes it; a cursor of another sort is refused. */
function companyPageQuery(query: z.infer<typeof CompanyListQuery>): {
  sort: string;
  page: CompanyPageQuery;
} {
  const sort = query.sort ?? 'row_number';
  const desc = sort.startsWith('-');
  const key = (desc ? sort.slice(1) : sort) as CompanySortKey;
  const after = query.cursor ? decodeCursor(query.cursor, companyCursorFor(sort, key)) : null;
  return {
    sort,
    page: {
      limit: query.limit + 1,
      sort: { key, desc },
      after:
        after === null
          ? null
          : typeof after === 'number'
            ? { value: null, row: after }
            : { value: after.v, row: after.r },
      status: query.status,
      q: query.q,
      updatedSince: query.updated_since ? new Date(query.updated_since) : undefined,
      minRow: query.min_row,
      maxRow: query.max_row,
      minConfidence: query.min_confidence,
    },
  };
}

/** One short string for a page's rows and their versions, in order. */
function pageVersion(rows: readonly { id: string; version: string }[]): string {
  const hash = createHash('sha1');
  for (const r of rows) hash.update(`${r.id}:${r.version};`);
  return hash.digest('base64url');
}

/**
 * How a job's stored file is opened: by the read, and again by the row export, which must find the
 * same header and row numbers (docs/adr/0011).
 */
function storedFileOptions(job: JobRow): UploadOpenOptions {
  return {
    filename: job.filename,
    domainColumn: job.domainColumn ?? undefined,
    headerRow: job.headerRow ?? undefined,
  };
}

export function createJobsService(deps: JobsServiceDeps) {
  const { db, dispatcher } = deps;
  const defaultProviders = deps.providers.defaults;

  async function present(rows: JobRow[]): Promise<Job[]> {
    const usage = await jobUsages(
      db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toJobResource(r, usage.get(r.id) ?? NO_USAGE));
  }

  /** After an upload's transaction: the replayed answer, the background read, or the read now. */
  async function finishUpload(
    orgId: string,
    checked: Awaited<ReturnType<UploadReader['check']>>,
    accepted: JobRow | null,
    idempotency: UploadIdempotency | undefined,
    requestHash: string,
  ): Promise<UploadResult> {
    if (accepted === null) return replay(orgId, idempotency!.key, requestHash);
    if (accepted.inputRows > deps.inlineMaxRows || checked.size() > INLINE_MAX_BYTES) {
      await deps.queue.enqueue('ingest-upload', [ingestTask(orgId, accepted.id)]);
      return { job: toJobResource(accepted, NO_USAGE), replayed: false };
    }
    let read: JobRow | null;
    try {
      read = await readStoredUpload(orgId, accepted.id);
    } catch (err) {
      // Refused for its content (no usable domain): answered as a refusal, so nothing is kept.
      if (err instanceof AppError) await deleteIngestingJob(db, orgId, accepted.id);
      throw err;
    }
    // Null: another reader (a sweep's task) read it first.
    const job = toJobResource(read ?? (await getRow(orgId, accepted.id)), NO_USAGE);
    if (idempotency) await setIdempotentResponse(db, orgId, idempotency.key, job);
    return { job, replayed: false };
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
    if (!row) throw jobNotFound();
    return row;
  }

  // Another organization's job answers exactly like a missing one.
  function jobNotFound(): AppError {
    return new AppError(
      'NOT_FOUND',
      "No such job in this organization (check the id, and that the API key is of the job's organization).",
    );
  }

  /**
   * Reads a stored upload into companies, rejected rows and its rows' domains in one transaction,
   * sets its counts and estimate, and dispatches its tasks after commit; its bytes stay, for the
   * row-level export. Null when the
   * job is not `ingesting` (read already). Throws AppError when the file has no usable domain.
   */
  async function readStoredUpload(orgId: string, jobId: string): Promise<JobRow | null> {
    const read = await deps.copyTransaction(async (tx, _copy, _copyBinary, copyText) => {
      const locked = await lockIngestingJob(tx, orgId, jobId);
      if (!locked) return null;
      // The bytes are committed: they are read on other connections while this one COPYs.
      const upload = await deps.reader.open(readUploadChunks(db, jobId), storedFileOptions(locked));
      try {
        const idx = upload.inputColumnIndexes;
        const total = await writeUploadRows(
          tx,
          copyText,
          { orgId: locked.orgId, jobId, inputColumns: idx },
          upload.rows,
        );
        const { inputRows, rejectedRows, maxColumns } = upload.stats;
        if (total === 0) {
          const reasons = await countRejectionReasons(tx, jobId);
          const summary = reasons.map((r) => `${r.rows.toLocaleString('en-US')} ${r.reason}`).join(', ');
          throw new AppError(
            'NO_VALID_DOMAINS',
            `None of the ${inputRows.toLocaleString('en-US')} rows holds a usable company domain (${summary}). ` +
              'The first rows and their reasons are listed in details.rejected (and, for a file read in the background, at /rejected).',
            {
              rejected: await sampleRejectedRows(tx, jobId, REJECTION_SAMPLE_ROWS),
              reasons: Object.fromEntries(reasons.map((r) => [r.reason, r.rows])),
            },
          );
        }
        const row = await finishUploadedJob(tx, jobId, {
          total,
          inputRows,
          rejectedRows,
          inputHeader: [...upload.header, ...Array<string>(maxColumns - upload.header.length).fill('')],
        });
        const steps = [];
        for (const name of row.providers) {
          const settings = deps.providers.available.get(name);
          // A provider this API cannot ask any more (its key was removed) is estimated as free.
          if (!settings) continue;
          const cacheHits = row.forceRefresh
            ? 0
            : await countFreshCacheHits(tx, row.id, { provider: name, ...deps.cache });
          steps.push({ provider: name, cacheHits, ...settings });
        }
        const estimate = estimateWaterfall(steps, total);
        return { job: await setJobEstimate(tx, row.id, estimate), total };
      } finally {
        await upload.close();
      }
    });
    if (!read) return null;
    if (read.total >= ANALYZE_AFTER_COMPANIES) await analyzeCompanies(db);
    // A job asked to wait (start=false) is dispatched when it is resumed.
    if (read.job.status !== 'paused') dispatcher.dispatchJobInBackground(read.job.orgId, read.job.id);
    return read.job;
  }

  return {
    /**
     * Takes an upload, in two steps. `beginUpload` checks the whole file as it arrives
     * (ingest/check-csv.ts) and stores its bytes with a job `ingesting`, in a transaction it keeps
     * open; the caller then reads the rest of its form (fields sent after the file), checks them,
     * and either `finish`es the upload with them or `abandon`s it, so a refused file, a bad field
     * or a client going away leaves nothing. A file of at most UPLOAD_INLINE_MAX_ROWS rows is then
     * read into rows and companies before the answer (which carries its counts and estimate); a
     * larger one is answered at once and read by a worker (task `ingest-upload`), so a million
     * rows do not hold the request open for half a minute.
     */
    async beginUpload(
      orgId: string,
      source: AsyncIterable<Uint8Array>,
      file: UploadOpenOptions,
    ): Promise<OpenUpload> {
      const checked = await deps.reader.check(source, file);
      type Ending = { options: UploadOptions; idempotency?: UploadIdempotency } | { abandoned: unknown };
      let end!: (ending: Ending) => void;
      const ending = new Promise<Ending>((resolve) => {
        end = resolve;
      });
      let stored!: () => void;
      const storedNow = new Promise<void>((resolve) => {
        stored = resolve;
      });
      let requestHash = '';
      const transaction = deps
        .copyTransaction(async (tx, _copy, copyBinary) => {
          await ensureOrganization(tx, orgId);
          const created = await insertIngestingJob(tx, {
            orgId,
            provider: defaultProviders[0]!,
            providers: [...defaultProviders],
            filename: file.filename,
            domainColumn: file.domainColumn?.trim() ? file.domainColumn : null,
            headerRow: file.headerRow ?? null,
            inputDelimiter: checked.delimiter,
            inputEncoding: checked.encoding,
            traceContext: deps.traceContext?.() ?? null,
          });
          await storeUploadChunks(copyBinary, created.id, checked.bytes);
          stored();
          const ended = await ending;
          if ('abandoned' in ended) throw ended.abandoned;
          const opts = ended.options;
          const domainColumn = opts.domainColumn?.trim() ? opts.domainColumn : file.domainColumn;
          checked.resolveDomainColumn(domainColumn);
          const row = await setAcceptedUpload(tx, created.id, {
            inputRows: checked.dataRows(),
            forceRefresh: opts.forceRefresh ?? false,
            maxCredits: opts.maxCredits ?? null,
            domainColumn: domainColumn?.trim() ? domainColumn : null,
            providers: opts.providers,
            awaitingStart: opts.start === false,
          });
          if (ended.idempotency) {
            requestHash = ended.idempotency.requestHash;
            const claimed = await claimIdempotencyKey(tx, {
              orgId,
              key: ended.idempotency.key,
              requestHash,
              jobId: row.id,
              response: toJobResource(row, NO_USAGE),
            });
            // Taken by an earlier request: undo this one and answer as that one was answered.
            if (!claimed) throw new IdempotencyKeyTaken();
          }
          return row;
        })
        .catch((err: unknown) => {
          if (err instanceof IdempotencyKeyTaken) return null;
          throw err;
        });
      // Stored, or failed before it was (a database error): either way the caller learns it now.
      await Promise.race([storedNow, transaction]);
      return {
        abandon: async (reason) => {
          end({ abandoned: reason });
          await transaction.catch(() => {});
        },
        finish: async (options, idempotency) => {
          end({ options, idempotency });
          return finishUpload(orgId, checked, await transaction, idempotency, requestHash);
        },
      };
    },
    /**
     * Reads a stored upload in the background (task `ingest-upload`). A file refused for its
     * content fails the job with the reason; anything else is thrown for the queue to retry.
     */
    async ingestStoredUpload(orgId: string, jobId: string): Promise<void> {
      try {
        await readStoredUpload(orgId, jobId);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        // The reasons are kept as rejected rows, so /rejected says why nothing was usable.
        const rejected = Array.isArray(err.details?.rejected)
          ? (err.details.rejected as RejectedSample[])
          : [];
        await failIngestingJob(db, orgId, jobId, { code: err.code, message: err.message, rejected });
      }
    },

    /** Gives every upload that nobody is reading (its reader died) a task again. */
    async resumeUnreadUploads(): Promise<number> {
      const unread = await listUnreadUploads(db);
      if (unread.length > 0) {
        await deps.queue.enqueue(
          'ingest-upload',
          unread.map((j) => ingestTask(j.orgId, j.id)),
        );
      }
      return unread.length;
    },

    /**
     * Refuses a waterfall that names a provider this installation cannot ask, in words that name
     * those it can (rather than run the job without it).
     */
    checkProviders(requested: readonly string[] | undefined): ProviderName[] | undefined {
      if (!requested) return undefined;
      const available = [...deps.providers.available.keys()];
      const missing = requested.filter((p) => !available.includes(p as ProviderName));
      const repeated = requested.filter((p, i) => requested.indexOf(p) !== i);
      if (missing.length > 0) {
        throw new AppError(
          'VALIDATION_FAILED',
          `providers: ${missing.map((p) => `"${p}"`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not available on this ` +
            `server, which can ask ${available.map((p) => `"${p}"`).join(', ')}` +
            `${available.includes('sandbox') ? ' (sandbox: synthetic data; set EXPLORIUM_API_KEY or PDL_API_KEY for a paid provider)' : ''}. ` +
            `Leave providers out (default: ${deps.providers.defaults.join(',')}), or name only those.`,
          { requested, available },
        );
      }
      if (repeated.length > 0) {
        throw new AppError(
          'VALIDATION_FAILED',
          `providers: ${repeated.map((p) => `"${p}"`).join(', ')} named twice; name each provider once, in the order to ask them.`,
          { requested },
        );
      }
      return requested as ProviderName[];
    },

    async get(orgId: string, jobId: string): Promise<Job> {
      const found = await findJobWithUsage(db, orgId, jobId);
      if (!found) throw jobNotFound();
      return toJobResource(found.job, found.usage);
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

    /**
     * A keyset page in any sort (see listCompaniesSorted); a cursor holds its sort and is refused
     * under another. `version` names the rows of the page and their versions (with the row after
     * it, which decides next_cursor): the same version, the same page.
     */
    async listCompanies(
      orgId: string,
      jobId: string,
      query: z.infer<typeof CompanyListQuery>,
    ): Promise<{ page: CompanyList; version: string }> {
      const { sort, page } = companyPageQuery(query);
      const rows = await listCompaniesSorted(db, orgId, jobId, page);
      // Rows are of this organization's job, so it exists; only an empty page asks whether it does.
      if (rows.length === 0) await getRow(orgId, jobId);
      const data = rows.slice(0, query.limit);
      const last = data[data.length - 1];
      return {
        page: {
          data: data.map((r) => toCompanyResource(r.row)),
          next_cursor:
            rows.length > query.limit && last
              ? // File order keeps the row-number cursor older clients hold.
                sort === 'row_number'
                ? encodeCursor(last.row.rowNumber)
                : encodeCursor({ s: sort, v: last.sortValue, r: last.row.rowNumber })
              : null,
        },
        version: pageVersion(rows.map((r) => ({ id: r.row.id, version: r.version }))),
      };
    },

    /** The version listCompanies would answer with now, without reading the rows (404 as it would). */
    async companiesVersion(orgId: string, jobId: string, query: z.infer<typeof CompanyListQuery>) {
      const rows = await listCompanyVersions(db, orgId, jobId, companyPageQuery(query).page);
      if (rows.length === 0) await getRow(orgId, jobId);
      return pageVersion(rows);
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
    ): Promise<{ job: Job; source: CsvFormat; companies: AsyncIterable<Company> }> {
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
      return { job: toJobResource(job, NO_USAGE), source: sourceFormat(job), companies: pages() };
    },

    /**
     * Every row of the job's file in order, as written, each with its company (none for a rejected
     * row), read page by page. CONFLICT for a job made before rows were kept.
     */
    async exportRows(
      orgId: string,
      jobId: string,
    ): Promise<{ job: Job; source: CsvFormat; header: string[]; rows: AsyncIterable<FileRow> }> {
      const job = await getRow(orgId, jobId);
      if (!job.inputHeader) {
        throw new AppError(
          'CONFLICT',
          `Job ${jobId} was created before uploaded rows were kept, so it has no row-level export: use layout=companies.`,
        );
      }
      const inJobRows = await hasRowsInJobRows(db, jobId);
      const { reader } = deps;
      async function* pages(): AsyncGenerator<FileRow> {
        if (inJobRows) {
          yield* pagesFromJobRows();
          return;
        }
        const records = await reader.records(readUploadChunks(db, jobId), storedFileOptions(job));
        const pages = joinRowsWithCompanies(db, orgId, jobId, records, {
          maxRows: EXPORT_PAGE_ROWS,
          maxBytes: EXPORT_PAGE_BYTES,
        });
        for await (const rows of pages) {
          for (const r of rows) yield { ...r, company: r.company && toCompanyResource(r.company) };
        }
      }
      /** A file read before files were kept (docs/adr/0011): its rows are in job_rows. */
      async function* pagesFromJobRows(): AsyncGenerator<FileRow> {
        let afterRow: number | null = null;
        // Rows asked for: grows while pages come back whole, shrinks after one cut by its byte
        // budget, so PostgreSQL does not build the JSON of many huge rows only to leave them out.
        let limit = EXPORT_FIRST_PAGE_ROWS;
        for (;;) {
          const rows = await listRowsWithCompanies(db, orgId, jobId, {
            limit,
            afterRow,
            maxBytes: EXPORT_PAGE_BYTES,
          });
          if (rows.length === 0) return;
          for (const r of rows) yield { ...r, company: r.company && toCompanyResource(r.company) };
          limit = rows.length < limit ? Math.max(1, rows.length * 2) : Math.min(EXPORT_PAGE_ROWS, limit * 4);
          afterRow = rows[rows.length - 1]!.rowNumber;
        }
      }
      return {
        job: toJobResource(job, NO_USAGE),
        source: sourceFormat(job),
        header: job.inputHeader,
        rows: pages(),
      };
    },

    /** Stops a job: queued companies are cancelled, companies being enriched finish. */
    async cancel(orgId: string, jobId: string): Promise<Job> {
      const row = await getRow(orgId, jobId);
      if (!(await cancelJob(db, orgId, jobId))) {
        if (row.status === 'ingesting') {
          throw new AppError(
            'CONFLICT',
            `Job ${jobId} is still reading its file: cancel it once it is queued (within seconds to a minute).`,
          );
        }
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

    /**
     * Continues a job paused by a provider problem (bad key, no credits) or by its credit limit
     * once that is fixed; a job with nothing left to run completes. A job still at its limit is
     * refused: it would pause again at once.
     */
    async resume(orgId: string, jobId: string): Promise<Job> {
      const row = await getRow(orgId, jobId);
      if (row.status !== 'paused') {
        throw new AppError(
          'CONFLICT',
          `Job ${jobId} is ${row.status}, not paused: there is nothing to resume.`,
        );
      }
      const workLeft = row.queuedCount + row.processingCount > 0;
      if (workLeft && row.errorCode === CREDIT_LIMIT_REACHED && row.maxCredits !== null) {
        const { spent } = await jobCredits(db, jobId);
        if (spent >= row.maxCredits) {
          throw new AppError(
            'CONFLICT',
            `Job ${jobId} has spent ${spent} of its ${row.maxCredits} credits (max_credits): raise or remove the limit first (PATCH /api/v1/jobs/${jobId} with {"max_credits": …}), then resume it.`,
            { credits_spent: spent, max_credits: row.maxCredits },
          );
        }
      }
      await resumeJob(db, orgId, jobId);
      dispatcher.dispatchJobInBackground(orgId, jobId);
      const [job] = await present([await getRow(orgId, jobId)]);
      return job!;
    },

    /**
     * Raises, lowers or removes (null) a job's max_credits while it can still spend. A limit must
     * stay above the credits already spent and cover those held by calls in flight. A job paused
     * at its limit stays paused until resumed.
     */
    async updateLimits(orgId: string, jobId: string, limits: { maxCredits: number | null }): Promise<Job> {
      const row = await getRow(orgId, jobId);
      const finished = `Job ${jobId} is ${row.status}: it spends nothing more, so its credit limit cannot change.`;
      if (row.status === 'completed' || row.status === 'cancelled' || row.status === 'failed') {
        throw new AppError('CONFLICT', finished);
      }
      const result = await setJobMaxCredits(db, orgId, jobId, limits.maxCredits);
      if (!result) throw new AppError('CONFLICT', finished);
      if (!result.updated) {
        const { spent, held } = result;
        throw new AppError(
          'CREDIT_LIMIT_TOO_LOW',
          held > 0 && limits.maxCredits! > spent
            ? `max_credits ${limits.maxCredits} is below the ${spent} credits job ${jobId} has spent plus the ${held} held by its calls in flight: set at least ${spent + held}, or try again in a few seconds.`
            : `max_credits ${limits.maxCredits} is not above the ${spent} credits job ${jobId} has already spent: set more than ${spent}, or null for no limit.`,
          { credits_spent: spent, credits_held: held },
        );
      }
      const [job] = await present([await getRow(orgId, jobId)]);
      return job!;
    },
  };
}

export type JobsService = ReturnType<typeof createJobsService>;
