/**
 * Reads an uploaded CSV as a stream of what a job is made of: every data row with its cells as
 * written and either its normalized domain or the reason it was rejected. Nothing is held whole
 * in memory and nothing is dropped: deduplication happens in the database (one company per
 * domain), where every row keeps its link to its company through that domain.
 */
import type { Job } from '@gtm-enrich/contracts';
import { AppError } from '../errors';
import { createCsvCheck } from '../ingest/check-csv';
import { normalizeDomain } from '../ingest/normalize-domain';
import {
  type CsvEncoding,
  type CsvRow,
  type DomainCsv,
  MAX_RECORD_SIZE_BYTES,
  openDomainCsv,
  resolveDomainColumn,
  sniffEncoding,
} from '../ingest/read-domain-csv';

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
  /** The domain column, then the columns a row falls back to when its domain cell is blank. */
  inputColumnIndexes: number[];
  /** In arrays of a few hundred, in file order. Read once, as pulled; iterating it reads the file. */
  rows: AsyncIterable<UploadRow[]>;
  /** Counts of what `rows` has yielded so far: final once it has been read to the end. */
  stats: Readonly<UploadStats>;
  /** Stops reading and releases the request body (also when `rows` was never started). */
  close(): Promise<void>;
};

export type UploadOpenOptions = {
  filename: string | null;
  domainColumn?: string | undefined;
  /** The file's line holding the header (1-based); default: detected. */
  headerRow?: number | undefined;
};

/** What checking a whole upload found; its rows are read later (`open`) from the stored bytes. */
export type CheckedUpload = {
  /** The file's bytes as received, checked as they pass; iterate once, to the end. */
  bytes: AsyncIterable<Uint8Array>;
  delimiter: string;
  encoding: CsvEncoding;
  /**
   * Refuses the file (NO_DOMAIN_COLUMN) unless its header has the domain column: `requested`
   * (a domain_column sent after the file is only known once the form is read), else one detected.
   */
  resolveDomainColumn(requested: string | undefined): void;
  /** Data rows counted by the check: known once `bytes` has been read to the end. */
  dataRows(): number;
  /** Bytes of the file: known once `bytes` has been read to the end. */
  size(): number;
};

/**
 * Reads uploads in two steps. `check` runs while the request arrives: the header and domain
 * column are found from the first bytes (a file without one is refused before anything is
 * stored), and the rest is checked as it streams past without being parsed into rows
 * (ingest/check-csv.ts), so the upload can be answered once it is stored. `open` reads the stored
 * bytes into rows afterwards, which can no longer fail on the file's form, only on its content
 * (no usable domain at all).
 */
export type UploadReader = {
  check(source: AsyncIterable<Uint8Array>, opts: UploadOpenOptions): Promise<CheckedUpload>;
  open(source: AsyncIterable<Uint8Array>, opts: UploadOpenOptions): Promise<OpenedUpload>;
  /**
   * The rows of a file `open` has read, as written and not normalized, for the row-level export:
   * the same options give the same header and row numbers. Not limited to MAX_ROWS, which may
   * have been lowered since the file was accepted.
   */
  records(source: AsyncIterable<Uint8Array>, opts: UploadOpenOptions): Promise<AsyncIterable<CsvRow[]>>;
};

/** The result of an upload: a new job, or the first response to the same Idempotency-Key. */
export type UploadResult = { job: Job; replayed: boolean };

/** Enough for read-domain-csv.ts to sniff the encoding, delimiter and header and see a first row. */
const HEAD_BYTES = 64 * 1024;
/** A header and a first row, each at the record size limit. */
const MAX_HEAD_BYTES = 2 * MAX_RECORD_SIZE_BYTES;

/** What a head cut before the end of its first row reads as: no row yet, or a quote still open. */
function cutOffTooSoon(err: unknown): boolean {
  return (
    err instanceof AppError &&
    (err.code === 'EMPTY_FILE' || err.details?.csv_error === 'CSV_QUOTE_NOT_CLOSED')
  );
}

/**
 * The head cut after its last line break, so that it ends neither inside a character (a UTF-8
 * sequence or a UTF-16 unit) nor inside a line; null when it holds no line break (a head that
 * ends exactly on one is returned whole). UTF-16 is searched unit by unit: a 0x0A byte can be
 * half of another character there.
 */
function headThroughLastLineBreak(head: Buffer): Buffer | null {
  const { encoding } = sniffEncoding(head);
  if (encoding !== 'utf-8') {
    const le = encoding === 'utf-16le';
    for (let i = (head.length & ~1) - 2; i >= 0; i -= 2) {
      const unit = le ? head[i]! | (head[i + 1]! << 8) : (head[i]! << 8) | head[i + 1]!;
      if (unit === 0x0a || unit === 0x0d) return head.subarray(0, i + 2);
    }
    return null;
  }
  const last = Math.max(head.lastIndexOf(0x0a), head.lastIndexOf(0x0d));
  return last === -1 ? null : head.subarray(0, last + 1);
}

async function checkUpload(
  source: AsyncIterable<Uint8Array>,
  opts: UploadOpenOptions & { maxRows: number },
): Promise<CheckedUpload> {
  const input = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let ended = false;
  try {
    // The head answers for the header and the first row; the check below covers the rest. A head
    // that ends before its first row does (a very long cell) is read further, up to two records.
    let csv: DomainCsv;
    for (let target = HEAD_BYTES; ; target *= 4) {
      while (headBytes < target && !ended) {
        const step = await input.next();
        if (step.done) ended = true;
        else {
          head.push(step.value);
          headBytes += step.value.byteLength;
        }
      }
      const whole = Buffer.concat(head);
      const cut = ended ? whole : headThroughLastLineBreak(whole);
      // Not one line ended yet (a header wider than the head): nothing to judge the file by.
      if (cut === null && target < MAX_HEAD_BYTES) continue;
      const sniffed = cut ?? whole;
      try {
        csv = await openDomainCsv(
          (async function* () {
            yield sniffed;
          })(),
          {
            domainColumn: opts.domainColumn,
            headerRow: opts.headerRow,
            // Without a domain_column before the file, one may come after it: judged then.
            deferDomainColumn: opts.domainColumn === undefined,
            maxRows: opts.maxRows,
          },
        );
        break;
      } catch (err) {
        if (ended || target >= MAX_HEAD_BYTES || !cutOffTooSoon(err)) throw err;
      }
    }
    await csv.rows[Symbol.asyncIterator]().return?.();
    const check = createCsvCheck({
      encoding: csv.encoding,
      delimiter: csv.delimiter,
      maxRows: opts.maxRows,
      recordsBeforeHeader: csv.recordsBeforeHeader,
    });
    const { header } = csv;
    let dataRows: number | null = null;
    let size = headBytes;
    async function* bytes(): AsyncGenerator<Uint8Array> {
      try {
        for (const chunk of head) {
          check.push(chunk);
          yield chunk;
        }
        if (!ended) {
          for (let step = await input.next(); !step.done; step = await input.next()) {
            size += step.value.byteLength;
            check.push(step.value);
            yield step.value;
          }
        }
        dataRows = check.end().dataRows;
        if (dataRows === 0) throw new AppError('EMPTY_FILE', 'The file has a header row but no data rows.');
      } finally {
        await input.return?.();
      }
    }
    return {
      bytes: bytes(),
      delimiter: csv.delimiter,
      encoding: csv.encoding,
      resolveDomainColumn: (requested) => {
        resolveDomainColumn(header, requested ?? opts.domainColumn);
      },
      dataRows: () => {
        if (dataRows === null) throw new Error('dataRows() before the upload was read to the end');
        return dataRows;
      },
      size: () => size,
    };
  } catch (err) {
    await input.return?.();
    throw err;
  }
}

export async function openUpload(
  source: AsyncIterable<Uint8Array>,
  opts: UploadOpenOptions & { maxRows: number; blockedEmailDomains: ReadonlySet<string> },
): Promise<OpenedUpload> {
  const csv = await openDomainCsv(source, {
    domainColumn: opts.domainColumn,
    headerRow: opts.headerRow,
    maxRows: opts.maxRows,
  });
  const stats: UploadStats = { inputRows: 0, rejectedRows: 0, maxColumns: csv.header.length };
  const normalizeOptions = { blockedEmailDomains: opts.blockedEmailDomains };
  const fallbacks = csv.fallbackColumnIndexes;
  async function* rows(): AsyncGenerator<UploadRow[]> {
    for await (const batch of csv.rowBatches) {
      const out: UploadRow[] = new Array(batch.length);
      for (let b = 0; b < batch.length; b++) {
        const row = batch[b]!;
        stats.inputRows++;
        if (row.record.length > stats.maxColumns) stats.maxColumns = row.record.length;
        let value = row.value;
        // A blank domain cell (HubSpot's Company Domain Name) falls back to the next recognized
        // column that is not (Website URL): the same order job-rows.repository.ts takes the input in.
        for (let i = 0; i < fallbacks.length && value.trim() === ''; i++)
          value = row.record[fallbacks[i]!] ?? '';
        const result = normalizeDomain(value, normalizeOptions);
        if (result.ok) {
          out[b] = {
            rowNumber: row.rowNumber,
            record: row.record,
            domain: result.domain,
            reason: null,
            message: null,
          };
        } else {
          stats.rejectedRows++;
          out[b] = {
            rowNumber: row.rowNumber,
            record: row.record,
            domain: null,
            reason: result.reason,
            message: result.message,
          };
        }
      }
      yield out;
    }
  }
  return {
    filename: opts.filename,
    header: csv.header,
    domainColumnIndex: csv.domainColumnIndex,
    inputColumnIndexes: [csv.domainColumnIndex, ...fallbacks],
    rows: rows(),
    stats,
    close: async () => {
      await csv.rowBatches[Symbol.asyncIterator]().return?.();
    },
  };
}

export function createUploadReader(limits: {
  maxRows: number;
  blockedEmailDomains: ReadonlySet<string>;
}): UploadReader {
  return {
    check: (source, opts) => checkUpload(source, { ...opts, maxRows: limits.maxRows }),
    open: (source, opts) => openUpload(source, { ...opts, ...limits }),
    records: async (source, opts) => {
      const csv = await openDomainCsv(source, {
        domainColumn: opts.domainColumn,
        headerRow: opts.headerRow,
        maxRows: Number.MAX_SAFE_INTEGER,
      });
      return csv.rowBatches;
    },
  };
}
