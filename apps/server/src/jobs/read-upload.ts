/**
 * Reads an uploaded CSV as a stream of what a job is made of: every data row with its cells as
 * written and either its normalized domain or the reason it was rejected. Nothing is held whole
 * in memory and nothing is dropped: deduplication happens in the database (one company per
 * domain), where every row keeps its link to its company through that domain.
 */
import type { Job } from '@gtm-enrich/contracts';
import { normalizeDomain } from '../ingest/normalize-domain';
import { openDomainCsv } from '../ingest/read-domain-csv';

export type UploadRow = {
  /** 1-based among data rows (see read-domain-csv.ts). */
  rowNumber: number;
  /** Every cell of the row as written. */
  record: string[];
  /** The normalized domain; null when the row is rejected. */
  domain: string | null;
  /** Why the row is rejected (a stable code) and a message a person can act on; null when accepted. */
  reason: string | null;
  message: string | null;
};

export type UploadStats = {
  inputRows: number;
  rejectedRows: number;
  /** Cells in the widest row, header included. */
  maxColumns: number;
};

export type OpenedUpload = {
  filename: string | null;
  /** Header cells as written. */
  header: string[];
  domainColumnIndex: number;
  /** Read once, as pulled; iterating it reads the request body. */
  rows: AsyncIterable<UploadRow>;
  /** Counts of what `rows` has yielded so far: final once it has been read to the end. */
  stats: Readonly<UploadStats>;
  /** Stops reading and releases the request body (also when `rows` was never started). */
  close(): Promise<void>;
};

export type UploadOpenOptions = { filename: string | null; domainColumn?: string | undefined };

/**
 * Opens an upload (encoding, delimiter, header and domain column are checked here, before
 * `create` runs: a file without a domain column never touches the database) and hands it to
 * `create`, which reads its rows and makes the job.
 */
export type UploadReader = {
  ingest(
    source: AsyncIterable<Uint8Array>,
    opts: UploadOpenOptions,
    create: (upload: OpenedUpload) => Promise<UploadResult>,
  ): Promise<UploadResult>;
};

/** The result of an upload: a new job, or the first response to the same Idempotency-Key. */
export type UploadResult = { job: Job; replayed: boolean };

export async function openUpload(
  source: AsyncIterable<Uint8Array>,
  opts: UploadOpenOptions & { maxRows: number; blockedEmailDomains: ReadonlySet<string> },
): Promise<OpenedUpload> {
  const csv = await openDomainCsv(source, { domainColumn: opts.domainColumn, maxRows: opts.maxRows });
  const stats: UploadStats = { inputRows: 0, rejectedRows: 0, maxColumns: csv.header.length };
  const normalizeOptions = { blockedEmailDomains: opts.blockedEmailDomains };
  async function* rows(): AsyncGenerator<UploadRow> {
    for await (const row of csv.rows) {
      stats.inputRows++;
      if (row.record.length > stats.maxColumns) stats.maxColumns = row.record.length;
      const result = normalizeDomain(row.value, normalizeOptions);
      if (result.ok) {
        yield {
          rowNumber: row.rowNumber,
          record: row.record,
          domain: result.domain,
          reason: null,
          message: null,
        };
      } else {
        stats.rejectedRows++;
        yield {
          rowNumber: row.rowNumber,
          record: row.record,
          domain: null,
          reason: result.reason,
          message: result.message,
        };
      }
    }
  }
  return {
    filename: opts.filename,
    header: csv.header,
    domainColumnIndex: csv.domainColumnIndex,
    rows: rows(),
    stats,
    close: async () => {
      await csv.rows[Symbol.asyncIterator]().return?.();
    },
  };
}

export function createUploadReader(limits: {
  maxRows: number;
  blockedEmailDomains: ReadonlySet<string>;
}): UploadReader {
  return {
    async ingest(source, opts, create) {
      const upload = await openUpload(source, { ...opts, ...limits });
      try {
        return await create(upload);
      } finally {
        await upload.close();
      }
    },
  };
}
