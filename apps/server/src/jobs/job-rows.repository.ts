/**
 * SQL for the rows of an uploaded file (table job_rows): written with COPY in the upload's
 * transaction, deduplicated into companies and rejected rows by set-based statements, and read
 * back in file order by the row-level export.
 */
import { and, asc, between, eq, type SQL, sql } from 'drizzle-orm';
import type { CopyRows } from '../db/copy';
import type { Db } from '../db/database';
import { type CompanyRow, companies, type JobRow, jobRows, jobs } from '../db/schema';
import type { UploadRow } from './read-upload';

const JOB_ROW_COLUMNS = ['job_id', 'row_number', 'record', 'domain', 'reason', 'message'] as const;

/** Streams every row into job_rows; resolves with the number written once the source is read. */
export async function copyJobRows(copy: CopyRows, jobId: string, rows: AsyncIterable<UploadRow>) {
  async function* values() {
    for await (const r of rows) yield [jobId, r.rowNumber, r.record, r.domain, r.reason, r.message] as const;
  }
  return copy('job_rows', JOB_ROW_COLUMNS, values());
}

/**
 * What a company or rejected row shows as its input: a page of 500 must not carry 500 cells of
 * 1 MiB (the row export has every cell whole).
 */
const MAX_INPUT_CHARS = 2_048;

/**
 * A row's input cell: the first of `columns` (the domain column, then its fallbacks) that is not
 * blank, as read-upload.ts picks the cell it normalizes; the domain column's own when all are.
 */
function inputCell(columns: readonly number[]): SQL {
  const cell = (i: number) => sql`record[${i + 1}::int]`;
  const firstFilled = columns.map((i) => sql`case when ${cell(i)} ~ '\\S' then ${cell(i)} end`);
  return sql`left(coalesce(${sql.join(firstFilled, sql`, `)}, ${cell(columns[0] ?? 0)}, ''), ${MAX_INPUT_CHARS}::int)`;
}

/**
 * One company per distinct domain, its first row as its input and row number (the company of
 * every other row with that domain). `inputColumns`: the domain column, then its fallbacks.
 * Returns how many companies were made.
 */
export async function insertCompaniesFromRows(
  db: Db,
  orgId: string,
  jobId: string,
  inputColumns: readonly number[],
): Promise<number> {
  const r = await db.execute(sql`
    insert into companies (org_id, job_id, domain, input, row_number)
    select distinct on (domain) ${orgId}, job_id, domain, ${inputCell(inputColumns)}, row_number
    from job_rows
    where job_id = ${jobId} and domain is not null
    order by domain, row_number
  `);
  return r.rowCount ?? 0;
}

/** Copies the rejected rows of job_rows into rejected_rows (listed by GET /jobs/{id}/rejected). */
export async function insertRejectedFromRows(
  db: Db,
  orgId: string,
  jobId: string,
  inputColumns: readonly number[],
): Promise<void> {
  await db.execute(sql`
    insert into rejected_rows (org_id, job_id, row_number, raw, reason, message)
    select ${orgId}, job_id, row_number, ${inputCell(inputColumns)}, reason, message
    from job_rows
    where job_id = ${jobId} and reason is not null
    order by row_number
  `);
}

/** The first rejected rows of a job's file, for an error that says why nothing was usable. */
export async function sampleRejectedRows(
  db: Db,
  jobId: string,
  inputColumns: readonly number[],
  limit: number,
): Promise<{ rowNumber: number; raw: string; reason: string; message: string }[]> {
  const r = await db.execute<{ rowNumber: number; raw: string; reason: string; message: string }>(sql`
    select row_number as "rowNumber", ${inputCell(inputColumns)} as raw,
           reason, message
    from job_rows
    where job_id = ${jobId} and reason is not null
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
 * A page of a job's rows in file order, each with its company (none for a rejected row): at most
 * `limit` rows and, past the first, no more than `maxBytes` of cells (as JSON), so a page of huge
 * rows stays as small in memory as a page of short ones.
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
    select reason, count(*)::int as rows from job_rows
    where job_id = ${jobId} and reason is not null
    group by reason order by count(*) desc, reason
  `);
  return r.rows;
}
