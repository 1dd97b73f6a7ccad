/** Idempotency keys of uploads: the first response per (organization, key), kept for replay. */

import type { Job } from '@gtm-enrich/contracts';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/database';
import { idempotencyKeys } from '../db/schema';

/**
 * Records `key` for this request in the upload's transaction. False when the key is already
 * taken: a concurrent twin waits here on the primary key until the first commits or rolls back.
 */
export async function claimIdempotencyKey(
  db: Db,
  entry: { orgId: string; key: string; requestHash: string; jobId: string; response: Job },
): Promise<boolean> {
  const rows = await db
    .insert(idempotencyKeys)
    .values(entry)
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  return rows.length > 0;
}

export async function findIdempotencyKey(
  db: Db,
  orgId: string,
  key: string,
): Promise<{ requestHash: string; response: Job } | null> {
  const [row] = await db
    .select({ requestHash: idempotencyKeys.requestHash, response: idempotencyKeys.response })
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, key)));
  return row ? { requestHash: row.requestHash, response: row.response as Job } : null;
}

/** The answer to replay once it is final: an upload read before its answer answers with its counts. */
export async function setIdempotentResponse(
  db: Db,
  orgId: string,
  key: string,
  response: Job,
): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ response })
    .where(and(eq(idempotencyKeys.orgId, orgId), eq(idempotencyKeys.key, key)));
}
