/**
 * SQL for the rows of an uploaded file: the job's companies (one per domain), rejected rows and
 * each row's domain (job_row_domains), written with COPY in the read's transaction chunk by chunk
 * as the file is read; and the rows again in file order, each with its company, for the row-level
 * export: their cells from the kept file, their companies by those domains (docs/adr/0011).
 */
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { and, asc, between, eq, sql } from 'drizzle-orm';
import { CopyBinaryLines, type CopyText } from '../db/copy';
import type { Db } from '../db/database';
import {
  type CompanyRow,
  companies,
  type JobRow,
  jobRowDomains,
  jobRows,
  jobs,
  rejectedRows,
} from '../db/schema';
import type { CsvRow } from '../ingest/read-domain-csv';
import { createCompanyIdBytes } from './company-ids';
import type { UploadRow } from './read-upload';
import { createSeenDomains, type SeenDomains } from './seen-domains';

const ROW_DOMAIN_COLUMNS = ['job_id', 'first_row', 'domains'] as const;
const REJECTED_COLUMNS = ['org_id', 'job_id', 'row_number', 'raw', 'reason', 'message'] as const;

/**
 * What a company or rejected row shows as its input: a page of 500 must not carry 500 cells of
 * 1 MiB (the row export has every cell whole).
 */
const MAX_INPUT_CHARS = 2_048;

const NOT_BLANK = /\S/;

/**
 * A row's input cell: the first of `columns` (the domain column, then its fallbacks) that is not
 * blank, as read-upload.ts picks the cell it normalizes, else the domain column's own; cut to
 * MAX_INPUT_CHARS characters (code points).
 */
export function inputCellOf(record: readonly string[], columns: readonly number[]): string {
  let value: string | undefined;
  for (const i of columns) {
    const cell = record[i];
    if (cell !== undefined && NOT_BLANK.test(cell)) {
      value = cell;
      break;
    }
  }
  value ??= record[columns[0] ?? 0] ?? '';
  if (value.length <= MAX_INPUT_CHARS) return value;
  let end = 0;
  for (let chars = 0; chars < MAX_INPUT_CHARS && end < value.length; chars++) {
    const code = value.charCodeAt(end);
    end += code >= 0xd800 && code <= 0xdbff && end + 1 < value.length ? 2 : 1;
  }
  return value.slice(0, end);
}

/**
 * Rows written per round. A chunk's companies and rejected rows are held until PostgreSQL has
 * them, so a chunk is bounded by bytes as well as rows. Each COPY has a cost of its own in
 * PostgreSQL (its executor state, a slot for each of up to 1,000 buffered rows): for 1,000,000
 * rows, chunks of 20,000 took 15-20 % less CPU on both sides than chunks of 5,000; 50,000 and
 * 100,000 gained nothing more and held 40-80 MB more.
 */
const CHUNK_MAX_ROWS = 20_000;
const CHUNK_MAX_BYTES = 4 * 1024 * 1024;
const COMPANY_COLUMNS = ['id', 'org_id', 'job_id', 'domain', 'input', 'row_number'] as const;

/** A chunk's rows, encoded for COPY as they are read: a row's values die young, its bytes live on. */
type Chunk = {
  /** One row of job_row_domains: each row's domain, null when rejected, in an array begun at `domainsAt`. */
  rowDomains: CopyBinaryLines;
  domainsAt: number;
  firstRow: number;
  rows: number;
  rejectedRows: number;
  /** The first row of each domain not seen before. */
  companies: CopyBinaryLines;
  /** Rows whose domain may have been seen: a company only if the job has none with that domain. */
  repeats: { ids: string[]; domains: string[]; inputs: string[]; rowNumbers: number[] };
  rejected: CopyBinaryLines;
};

/** A chunk sized like the one before it, so that its buffers need not grow. */
const emptyChunk = (before?: Chunk): Chunk => ({
  rowDomains: new CopyBinaryLines(before?.rowDomains.size),
  domainsAt: 0,
  firstRow: 0,
  rows: 0,
  rejectedRows: 0,
  companies: new CopyBinaryLines(before?.companies.size),
  repeats: { ids: [], domains: [], inputs: [], rowNumbers: [] },
  rejected: new CopyBinaryLines(before?.rejected.size),
});

/**
 * Writes an upload's companies, rejected rows and rows' domains in chunks, each chunk as binary COPYs,
 * while Node reads and normalizes the next chunk (docs/adr/0008, 0009). A company is the first row
 * of its domain, in file order: a domain not seen before (seen-domains.ts) is COPYed into
 * companies and a repeat is not written at all; a row whose domain may have been seen (seen-domains
 * could not keep its characters) is inserted with `on conflict do nothing` on
 * companies_job_domain_uq, which skips it when it is a repeat. Company ids increase
 * (company-ids.ts), so the primary key grows at its right edge.
 * `inputColumns`: the domain column, then its fallbacks. Returns how many companies were made.
 */
export async function writeUploadRows(
  db: Db,
  copyText: CopyText,
  job: { orgId: string; jobId: string; inputColumns: readonly number[] },
  rows: AsyncIterable<readonly UploadRow[]>,
  /** `seen`: for tests, a set that answers otherwise (a collision on every domain). */
  opts: { seen?: SeenDomains } = {},
): Promise<number> {
  const { orgId, jobId, inputColumns } = job;
  const jobIdBytes = Buffer.from(jobId.replace(/-/g, ''), 'hex');
  const seen = opts.seen ?? createSeenDomains();
  const nextId = createCompanyIdBytes();
  let companiesMade = 0;
  const write = async (chunk: Chunk) => {
    chunk.rowDomains.endTextArray(chunk.domainsAt, chunk.rows, chunk.rejectedRows > 0);
    await copyText('job_row_domains', ROW_DOMAIN_COLUMNS, chunk.rowDomains);
    if (chunk.companies.rows > 0) await copyText('companies', COMPANY_COLUMNS, chunk.companies);
    const { repeats } = chunk;
    if (repeats.domains.length > 0) {
      const r = await db.execute(sql`
        insert into companies (id, org_id, job_id, domain, input, row_number)
        select c.id, ${orgId}, ${jobId}, c.domain, c.input, c.row_number
        from unnest(${sql.param(repeats.ids)}::uuid[], ${sql.param(repeats.domains)}::text[],
                    ${sql.param(repeats.inputs)}::text[], ${sql.param(repeats.rowNumbers)}::int[])
             as c(id, domain, input, row_number)
        on conflict (job_id, domain) do nothing
      `);
      companiesMade += r.rowCount ?? 0;
    }
    if (chunk.rejected.rows > 0) await copyText('rejected_rows', REJECTED_COLUMNS, chunk.rejected);
  };
  // At most one chunk is being written while the next one is read.
  let writing: Promise<void> | null = null;
  let writingDone = true;
  const send = async (chunk: Chunk) => {
    if (writing) await writing;
    writingDone = false;
    const next = write(chunk).finally(() => {
      writingDone = true;
    });
    // Awaited before the next chunk is sent or at the end; a failure meanwhile is not unhandled.
    next.catch(() => undefined);
    writing = next;
  };
  let chunk = emptyChunk();
  try {
    for await (const batch of rows) {
      for (const r of batch) {
        if (chunk.rows === 0) {
          chunk.firstRow = r.rowNumber;
          chunk.rowDomains.row(ROW_DOMAIN_COLUMNS.length).uuid(jobIdBytes).int4(r.rowNumber);
          chunk.domainsAt = chunk.rowDomains.beginTextArray();
        } else if (r.rowNumber !== chunk.firstRow + chunk.rows) {
          throw new Error(`writeUploadRows: row ${r.rowNumber} after ${chunk.firstRow + chunk.rows - 1}`);
        }
        chunk.rows++;
        // Encoded at once, like everything of a row: a chunk holding 20,000 domain strings had
        // them (and the text they were cut from) promoted to the old generation, a collection of
        // it every 150 ms.
        const input = inputCellOf(r.record, inputColumns);
        const { domain } = r;
        chunk.rowDomains.textOrNull(domain);
        if (domain === null) {
          chunk.rejectedRows++;
          chunk.rejected
            .row(REJECTED_COLUMNS.length)
            .text(orgId)
            .uuid(jobIdBytes)
            .int4(r.rowNumber)
            .text(input)
            .text(r.reason ?? '')
            .text(r.message ?? '');
        } else {
          const answer = seen.add(domain);
          if (answer === 'new') {
            chunk.companies
              .row(COMPANY_COLUMNS.length)
              .uuid(nextId())
              .text(orgId)
              .uuid(jobIdBytes)
              .text(domain)
              .text(input)
              .int4(r.rowNumber);
            companiesMade++;
          } else if (answer === 'maybe') {
            chunk.repeats.ids.push(nextId().toString('hex'));
            chunk.repeats.domains.push(domain);
            chunk.repeats.inputs.push(input);
            chunk.repeats.rowNumbers.push(r.rowNumber);
          }
        }
        if (chunk.rows >= CHUNK_MAX_ROWS || chunk.companies.size + chunk.rejected.size >= CHUNK_MAX_BYTES) {
          await send(chunk);
          chunk = emptyChunk(chunk);
        }
      }
      // Rows read from a buffer resolve without I/O, and a loop of microtasks keeps PostgreSQL's
      // answers (and so the chunk's next statement) waiting until the reader needs more bytes:
      // without this pause PostgreSQL sat idle for most of the read. After the batch, not before:
      // what runs meanwhile allocates, and a batch still held would outlive the collections.
      if (!writingDone) await yieldToIo();
    }
    if (chunk.rows > 0) await send(chunk);
    if (writing) await writing;
  } catch (err) {
    // The connection is left with no statement running, for the ROLLBACK that follows.
    if (writing) await (writing as Promise<void>).catch(() => undefined);
    throw err;
  }
  return companiesMade;
}

/** The first rejected rows of a job's file, for an error that says why nothing was usable. */
export async function sampleRejectedRows(
  db: Db,
  jobId: string,
  limit: number,
): Promise<{ rowNumber: number; raw: string; reason: string; message: string }[]> {
  const r = await db.execute<{ rowNumber: number; raw: string; reason: string; message: string }>(sql`
    select row_number as "rowNumber", raw, reason, message
    from rejected_rows
    where job_id = ${jobId}
    order by row_number
    limit ${limit}
  `);
  return r.rows;
}

/**
 * Sets what the upload found on a job inserted empty before its rows were read, and queues it.
 * Its caller refuses a file without a usable domain first, so `total` is never 0 here.
 */
export async function finishUploadedJob(
  db: Db,
  jobId: string,
  found: {
    total: number;
    inputRows: number;
    rejectedRows: number;
    inputHeader: string[];
  },
): Promise<JobRow> {
  const [row] = await db
    .update(jobs)
    .set({
      ...found,
      queuedCount: found.total,
      // Made with start=false (stored-upload.repository's AWAITING_START): it waits, paused.
      status: sql`case when ${jobs.errorCode} = 'AWAITING_START' then 'paused' else 'queued' end`,
    })
    .where(eq(jobs.id, jobId))
    .returning();
  return row!;
}

export type ExportRow = {
  rowNumber: number;
  record: string[];
  reason: string | null;
  message: string | null;
  company: CompanyRow | null;
};

/**
 * The rows of a job's file in file order, each with its company (none for a rejected row): the
 * rows as the file is read again (`records`), each joined through the domain its read stored
 * (job_row_domains) with the job's company of that domain, or with its rejected row. In pages of
 * at most `maxRows` rows and, past the first row, `maxBytes` of cells (UTF-16 units), so a page of
 * huge rows stays as small in memory as a page of short ones.
 */
export async function* joinRowsWithCompanies(
  db: Db,
  orgId: string,
  jobId: string,
  records: AsyncIterable<readonly CsvRow[]>,
  page: { maxRows: number; maxBytes: number },
): AsyncGenerator<ExportRow[]> {
  // The chunk of stored domains the current row is in; chunks follow each other without gaps.
  let chunkFirstRow = 1;
  let chunkDomains: (string | null)[] = [];
  /** Reads the chunk of stored domains that follows the current one. */
  const nextChunk = async () => {
    const nextFirstRow = chunkFirstRow + chunkDomains.length;
    // As JSON text, which JSON.parse reads natively; pg's own parser of a text[] is JavaScript.
    const [next] = await db
      .select({ domains: sql<string>`array_to_json(${jobRowDomains.domains})::text` })
      .from(jobRowDomains)
      .where(and(eq(jobRowDomains.jobId, jobId), eq(jobRowDomains.firstRow, nextFirstRow)));
    if (!next) throw new Error(`job ${jobId}: no stored domains from row ${nextFirstRow}`);
    chunkFirstRow = nextFirstRow;
    chunkDomains = JSON.parse(next.domains) as (string | null)[];
  };
  const join = async (rows: readonly CsvRow[], domains: readonly (string | null)[]) => {
    const wanted = [...new Set(domains.filter((d): d is string => d !== null))];
    const found =
      wanted.length === 0
        ? []
        : await db
            .select()
            .from(companies)
            .where(
              and(
                eq(companies.orgId, orgId),
                eq(companies.jobId, jobId),
                sql`${companies.domain} = any(${sql.param(wanted)}::text[])`,
              ),
            );
    const byDomain = new Map(found.map((c) => [c.domain, c]));
    const rejected = !domains.includes(null)
      ? []
      : await db
          .select({
            rowNumber: rejectedRows.rowNumber,
            reason: rejectedRows.reason,
            message: rejectedRows.message,
          })
          .from(rejectedRows)
          .where(
            and(
              eq(rejectedRows.orgId, orgId),
              eq(rejectedRows.jobId, jobId),
              between(rejectedRows.rowNumber, rows[0]!.rowNumber, rows[rows.length - 1]!.rowNumber),
            ),
          );
    const why = new Map(rejected.map((r) => [r.rowNumber, r]));
    return rows.map((row, i): ExportRow => {
      const domain = domains[i];
      const rejection = domain ? undefined : why.get(row.rowNumber);
      return {
        rowNumber: row.rowNumber,
        record: row.record,
        reason: rejection?.reason ?? null,
        message: rejection?.message ?? null,
        company: (domain && byDomain.get(domain)) || null,
      };
    });
  };
  let rows: CsvRow[] = [];
  let domains: (string | null)[] = [];
  let bytes = 0;
  for await (const batch of records) {
    for (const row of batch) {
      while (row.rowNumber >= chunkFirstRow + chunkDomains.length) await nextChunk();
      rows.push(row);
      domains.push(chunkDomains[row.rowNumber - chunkFirstRow] ?? null);
      for (const cell of row.record) bytes += cell.length;
      if (rows.length >= page.maxRows || bytes >= page.maxBytes) {
        yield await join(rows, domains);
        rows = [];
        domains = [];
        bytes = 0;
      }
    }
  }
  if (rows.length > 0) yield await join(rows, domains);
}

/**
 * Whether the job's rows are in job_rows: a file read before files were kept (docs/adr/0011),
 * whose export reads them there (listRowsWithCompanies) since its bytes are gone.
 */
export async function hasRowsInJobRows(db: Db, jobId: string): Promise<boolean> {
  const r = await db.execute<{ found: boolean }>(
    sql`select exists (select 1 from job_rows where job_id = ${jobId}) as found`,
  );
  return r.rows[0]?.found === true;
}

/**
 * A page of the rows of a job read into job_rows (hasRowsInJobRows), in file order, each with its
 * company (none for a rejected row): at most `limit` rows and, past the first, no more than
 * `maxBytes` of cells (as JSON), so a page of huge rows stays as small in memory as a page of
 * short ones.
 *
 * Each record is read as the JSON text of its array (`array_to_json`), which JSON.parse turns into
 * strings natively; read as `text[]`, pg's array parser would walk it a character at a time,
 * building an array element per character.
 */
export async function listRowsWithCompanies(
  db: Db,
  orgId: string,
  jobId: string,
  page: { limit: number; afterRow: number | null; maxBytes: number },
): Promise<ExportRow[]> {
  const recordJson = sql<string>`array_to_json(${jobRows.record})::text`;
  const rows = db
    .select({
      rowNumber: jobRows.rowNumber,
      domain: jobRows.domain,
      reason: jobRows.reason,
      message: jobRows.message,
      record: recordJson.as('record'),
      // The bytes of the rows before this one on the page, this one excluded.
      before:
        sql<string>`coalesce(sum(octet_length(${recordJson})) over (order by ${jobRows.rowNumber} rows between unbounded preceding and 1 preceding), 0)`.as(
          'before',
        ),
    })
    .from(jobRows)
    .innerJoin(jobs, and(eq(jobs.id, jobRows.jobId), eq(jobs.orgId, orgId)))
    .where(
      and(
        eq(jobRows.jobId, jobId),
        // Row numbers are dense (1, 2, 3… among data rows): a range, not `> after … limit`, so
        // the scan covers the page alone whatever the planner believes about a table just
        // filled (with stale statistics it sorted every row after the page, for every page).
        between(jobRows.rowNumber, (page.afterRow ?? 0) + 1, (page.afterRow ?? 0) + page.limit),
      ),
    )
    .orderBy(asc(jobRows.rowNumber))
    .as('page');
  const found = await db
    .select({
      rowNumber: rows.rowNumber,
      record: rows.record,
      reason: rows.reason,
      message: rows.message,
      company: companies,
    })
    .from(rows)
    .leftJoin(companies, and(eq(companies.jobId, jobId), eq(companies.domain, rows.domain)))
    .where(sql`${rows.before} < ${page.maxBytes}`)
    .orderBy(asc(rows.rowNumber));
  return found.map((r) => ({ ...r, record: JSON.parse(r.record) as string[] }));
}

/** How many rows of a job's file were rejected for each reason, most frequent first. */
export async function countRejectionReasons(
  db: Db,
  jobId: string,
): Promise<{ reason: string; rows: number }[]> {
  const r = await db.execute<{ reason: string; rows: number }>(sql`
    select reason, count(*)::int as rows from rejected_rows
    where job_id = ${jobId}
    group by reason order by count(*) desc, reason
  `);
  return r.rows;
}
