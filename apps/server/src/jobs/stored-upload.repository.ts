/**
 * SQL for an upload between its answer and its reading: the job in status `ingesting` and the
 * file's bytes in upload_chunks, written in order as the request arrives and read back in order.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { type JobRow, jobs, uploadChunks } from '../db/schema';

/** Bytes per stored chunk: large enough that a 200 MB upload is 200 statements, small enough to buffer. */
const CHUNK_BYTES = 1024 * 1024;

export async function insertIngestingJob(
  db: Db,
  job: { orgId: string; provider: JobRow['provider']; filename: string | null; domainColumn: string | null },
): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({ ...job, status: 'ingesting', total: 0, inputRows: 0, queuedCount: 0 })
    .returning();
  return row!;
}

/**
 * Stores `bytes` in order; resolves with the number of bytes once the source is read. One insert
 * is in flight while the next chunk is read and checked: PostgreSQL writes while Node reads.
 */
export async function storeUploadChunks(
  db: Db,
  jobId: string,
  bytes: AsyncIterable<Uint8Array>,
): Promise<number> {
  let seq = 0;
  let total = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    const data = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await inFlight;
    // execute(): a query builder runs once per then(), and this one is awaited more than once.
    inFlight = db.insert(uploadChunks).values({ jobId, seq: seq++, data }).execute();
    // Awaited at the next flush or at the end; until then a failure must not go unhandled.
    inFlight.catch(() => {});
  };
  try {
    for await (const chunk of bytes) {
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      total += chunk.byteLength;
      if (pendingBytes >= CHUNK_BYTES) await flush();
    }
    if (pendingBytes > 0) await flush();
  } finally {
    // Never leave an insert running on the transaction's connection, also when the source failed.
    await inFlight.catch(() => {});
  }
  await inFlight;
  return total;
}

/**
 * Read back in slices this small so that each one (sent as hex text, then decoded) stays a short-
 * lived young-generation object: 1 MB reads left megabytes of large-object garbage per chunk,
 * and the reader's RSS grew by hundreds of MB over a large file. Uncompressed storage (0006)
 * lets PostgreSQL fetch just the slice.
 */
const READ_SLICE_BYTES = 48 * 1024;

/** The stored bytes of a job's upload in order, a slice per query. */
export async function* readUploadChunks(db: Db, jobId: string): AsyncGenerator<Uint8Array> {
  for (let seq = 0; ; seq++) {
    const where = and(eq(uploadChunks.jobId, jobId), eq(uploadChunks.seq, seq));
    const [chunk] = await db
      .select({ bytes: sql<number>`length(${uploadChunks.data})` })
      .from(uploadChunks)
      .where(where);
    if (!chunk) return;
    for (let offset = 0; offset < chunk.bytes; offset += READ_SLICE_BYTES) {
      const [slice] = await db
        .select({
          data: sql<Buffer>`substring(${uploadChunks.data} from ${offset + 1} for ${READ_SLICE_BYTES})`,
        })
        .from(uploadChunks)
        .where(where);
      if (!slice) return;
      yield slice.data;
    }
  }
}

export async function deleteUploadChunks(db: Db, jobId: string): Promise<void> {
  await db.delete(uploadChunks).where(eq(uploadChunks.jobId, jobId));
}

/**
 * Locks a job still `ingesting` for the transaction that reads its upload; null when it is not
 * (read already, or failed). A second reader of the same job waits here, then finds it read.
 */
export async function lockIngestingJob(db: Db, jobId: string): Promise<JobRow | null> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, jobId), eq(jobs.status, 'ingesting')))
    .for('update');
  return row ?? null;
}

/** Sets what the check of the whole file found and the form's options, before the upload commits. */
export async function setAcceptedUpload(
  db: Db,
  jobId: string,
  found: { inputRows: number; forceRefresh: boolean; maxCredits: number | null },
): Promise<JobRow> {
  const [row] = await db.update(jobs).set(found).where(eq(jobs.id, jobId)).returning();
  return row!;
}

/** A stored upload that could not be read into a job: the job says why and keeps no bytes. */
export async function failIngestingJob(
  db: Db,
  jobId: string,
  error: { code: string; message: string },
): Promise<void> {
  await db
    .update(jobs)
    .set({ status: 'failed', errorCode: error.code, errorMessage: error.message, finishedAt: sql`now()` })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, 'ingesting')));
  await deleteUploadChunks(db, jobId);
}

/** Removes a job whose upload was refused after it was stored (its chunks and key go with it). */
export async function deleteIngestingJob(db: Db, jobId: string): Promise<void> {
  await db.delete(jobs).where(and(eq(jobs.id, jobId), eq(jobs.status, 'ingesting')));
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
