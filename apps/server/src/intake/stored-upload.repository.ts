/**
 * SQL for an upload between its answer and its reading: the job in status `ingesting` and the
 * file's bytes in upload_chunks, written in order as the request arrives and read back in order.
 */
import { and, eq, sql } from 'drizzle-orm';
import { type BinaryValue, type CopyBinaryRows, copyOutValues } from '../db/copy';
import type { Database, Db } from '../db/database';
import { type JobRow, jobs, rejectedRows, UPLOAD_CHUNK_BYTES, uploadChunks } from '../db/schema';

export async function insertIngestingJob(
  db: Db,
  job: Pick<
    JobRow,
    | 'orgId'
    | 'provider'
    | 'providers'
    | 'filename'
    | 'domainColumn'
    | 'headerRow'
    | 'inputDelimiter'
    | 'inputEncoding'
  > &
    Partial<Pick<JobRow, 'traceContext'>>,
): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({ ...job, status: 'ingesting', total: 0, inputRows: 0, queuedCount: 0 })
    .returning();
  return row!;
}

/** Stores `bytes` in order, in rows of UPLOAD_CHUNK_BYTES. */
export async function storeUploadChunks(
  copyBinary: CopyBinaryRows,
  jobId: string,
  bytes: AsyncIterable<Uint8Array>,
): Promise<void> {
  async function* rows(): AsyncGenerator<readonly BinaryValue[]> {
    let seq = 0;
    let pending: Buffer = Buffer.alloc(0);
    for await (const chunk of bytes) {
      pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      let offset = 0;
      for (; pending.length - offset >= UPLOAD_CHUNK_BYTES; offset += UPLOAD_CHUNK_BYTES) {
        yield [jobId, seq++, pending.subarray(offset, offset + UPLOAD_CHUNK_BYTES)];
      }
      pending = pending.subarray(offset);
    }
    if (pending.length > 0) yield [jobId, seq++, pending];
  }
  await copyBinary('upload_chunks', UPLOAD_CHUNK_COLUMNS, rows());
}

const UPLOAD_CHUNK_COLUMNS = [
  { name: 'job_id', type: 'uuid' },
  { name: 'seq', type: 'int4' },
  { name: 'data', type: 'bytea' },
] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The stored bytes of a job's upload in order, on a connection of their own (the read parses
 * while they stream). One binary COPY: a SELECT per 1 MB sent each chunk as hex text, twice its
 * bytes, which the worker decoded as a string and then as hex (about a second of its CPU for a
 * 67 MB file), and each round trip was time the whole read waited too.
 */
export function readUploadChunks(db: Database, jobId: string): AsyncGenerator<Uint8Array> {
  // COPY takes no parameters: the id is checked to be one before it is written into the statement.
  if (!UUID.test(jobId)) throw new Error(`readUploadChunks: not a job id: ${jobId}`);
  return copyOutValues(db, `select data from upload_chunks where job_id = '${jobId}' order by seq`);
}

export async function deleteUploadChunks(db: Db, jobId: string): Promise<void> {
  await db.delete(uploadChunks).where(eq(uploadChunks.jobId, jobId));
}

/**
 * Locks a job still `ingesting` for the transaction that reads its upload; null when it is not
 * (read already, or failed). A second reader of the same job waits here, then finds it read.
 */
export async function lockIngestingJob(db: Db, orgId: string, jobId: string): Promise<JobRow | null> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.orgId, orgId), eq(jobs.id, jobId), eq(jobs.status, 'ingesting')))
    .for('update');
  return row ?? null;
}

/** Sets what the check of the whole file found and the form's options, before the upload commits. */
export async function setAcceptedUpload(
  db: Db,
  jobId: string,
  found: {
    inputRows: number;
    forceRefresh: boolean;
    maxCredits: number | null;
    domainColumn: string | null;
    /** The form's waterfall, when it named one (else the job keeps the installation's). */
    providers?: JobRow['providers'] | undefined;
    /** start=false: once read, the job waits paused with this code (finishUploadedJob reads it). */
    awaitingStart?: boolean;
  },
): Promise<JobRow> {
  const { awaitingStart, providers, ...fields } = found;
  const [row] = await db
    .update(jobs)
    .set({
      ...fields,
      ...(providers ? { providers, provider: providers[0] } : {}),
      ...(awaitingStart ? { errorCode: AWAITING_START, errorMessage: AWAITING_START_MESSAGE } : {}),
    })
    .where(eq(jobs.id, jobId))
    .returning();
  return row!;
}

/** The code of a job made with start=false: paused with its estimate until resumed. */
export const AWAITING_START = 'AWAITING_START';
const AWAITING_START_MESSAGE =
  'The job waits to be started: check its estimate, then start it (POST /api/v1/jobs/{id}/resume) or cancel it.';

export type RejectedSample = { rowNumber: number; raw: string; reason: string; message: string };

/**
 * A stored upload that could not be read into a job: the job says why and keeps no bytes, and
 * the first rows and their reasons (when it had no usable domain) stay as its rejected rows.
 */
export async function failIngestingJob(
  db: Db,
  orgId: string,
  jobId: string,
  error: { code: string; message: string; rejected?: readonly RejectedSample[] },
): Promise<void> {
  const failed = await db
    .update(jobs)
    .set({
      status: 'failed',
      errorCode: error.code,
      errorMessage: error.message,
      // No usable domain: every row was rejected (only the first are kept, to say why).
      ...(error.rejected?.length ? { rejectedRows: sql`${jobs.inputRows}` } : {}),
      finishedAt: sql`now()`,
    })
    .where(and(eq(jobs.orgId, orgId), eq(jobs.id, jobId), eq(jobs.status, 'ingesting')))
    .returning({ id: jobs.id });
  if (failed.length > 0 && error.rejected && error.rejected.length > 0) {
    await db
      .insert(rejectedRows)
      .values(error.rejected.map((r) => ({ orgId, jobId, ...r })))
      .onConflictDoNothing();
  }
  await deleteUploadChunks(db, jobId);
}

/**
 * Removes a job whose upload was refused after it was stored (its chunks and key go with it by
 * cascade). Its companies, rejected rows and rows' domains have no foreign key (docs/adr/0008,
 * 0009), so they are deleted here by name; a job still `ingesting` has none (they are written in
 * the transaction that ends `ingesting`), which this keeps true whatever a later change does.
 */
export async function deleteIngestingJob(db: Db, orgId: string, jobId: string): Promise<void> {
  await db.execute(sql`
    with gone as (
      delete from jobs where org_id = ${orgId} and id = ${jobId} and status = 'ingesting' returning id
    ), gone_companies as (
      delete from companies where job_id in (select id from gone)
    ), gone_rejected as (
      delete from rejected_rows where job_id in (select id from gone)
    )
    delete from job_row_domains where job_id in (select id from gone)
  `);
}

/**
 * Jobs whose stored upload nobody is reading: `ingesting` and not locked by a reader. A reader
 * that died (its process, or the queue that carried its task) leaves exactly these.
 */
export async function listUnreadUploads(db: Db): Promise<{ id: string; orgId: string }[]> {
  const r = await db.execute<{ id: string; orgId: string }>(sql`
    select id, org_id as "orgId" from jobs where status = 'ingesting' for update skip locked
  `);
  return r.rows;
}
