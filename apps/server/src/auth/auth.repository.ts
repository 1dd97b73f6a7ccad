/**
 * SQL for organizations, API keys and the audit log. Every function takes a `Db` (database or
 * transaction) first; everything that reads an organization's data is scoped by its id.
 */
import { and, asc, desc, eq, isNull, lt, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { type ApiKeyRow, type AuditLogRow, apiKeys, auditLog, organizations } from '../db/schema';

export type OrganizationRow = typeof organizations.$inferSelect;

export async function insertOrganization(db: Db, org: { id: string; name: string }): Promise<boolean> {
  const rows = await db.insert(organizations).values(org).onConflictDoNothing().returning();
  return rows.length > 0;
}

export async function findOrganization(db: Db, orgId: string): Promise<OrganizationRow | null> {
  const [row] = await db.select().from(organizations).where(eq(organizations.id, orgId));
  return row ?? null;
}

export async function insertApiKey(db: Db, key: typeof apiKeys.$inferInsert): Promise<ApiKeyRow> {
  const [row] = await db.insert(apiKeys).values(key).returning();
  return row!;
}

/** A key by its hash, with its organization's name: what every authenticated request reads. */
export async function findApiKeyByHash(
  db: Db,
  keyHash: string,
): Promise<(ApiKeyRow & { orgName: string }) | null> {
  const [row] = await db
    .select({ key: apiKeys, orgName: organizations.name })
    .from(apiKeys)
    .innerJoin(organizations, eq(organizations.id, apiKeys.orgId))
    .where(eq(apiKeys.keyHash, keyHash));
  return row ? { ...row.key, orgName: row.orgName } : null;
}

export async function findApiKeyByPrefix(db: Db, prefix: string, orgId?: string): Promise<ApiKeyRow | null> {
  const where = [eq(apiKeys.prefix, prefix)];
  if (orgId) where.push(eq(apiKeys.orgId, orgId));
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(...where));
  return row ?? null;
}

/** A key's visible prefix changes, and so does every place that names the key by it. */
export async function renameKeyPrefix(db: Db, id: string, from: string, to: string): Promise<void> {
  await db.update(apiKeys).set({ prefix: to }).where(eq(apiKeys.id, id));
  await db.update(apiKeys).set({ createdBy: to }).where(eq(apiKeys.createdBy, from));
  await db.update(auditLog).set({ actor: to }).where(eq(auditLog.actor, from));
  await db
    .update(auditLog)
    .set({ targetId: to })
    .where(and(eq(auditLog.targetType, 'api_key'), eq(auditLog.targetId, from)));
}

export async function listApiKeys(db: Db, orgId?: string): Promise<ApiKeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(orgId ? eq(apiKeys.orgId, orgId) : undefined)
    .orderBy(asc(apiKeys.orgId), asc(apiKeys.createdAt));
}

export async function countActiveApiKeys(db: Db): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(apiKeys)
    .where(isNull(apiKeys.revokedAt));
  return row?.n ?? 0;
}

/**
 * The ids of an organization's active admin keys, locked until the transaction ends: two admins
 * revoking each other at once must not both see the other one as the admin that remains.
 */
export async function lockActiveAdminKeys(db: Db, orgId: string): Promise<string[]> {
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.role, 'admin'), isNull(apiKeys.revokedAt)))
    .for('update');
  return rows.map((r) => r.id);
}

/** Revokes a key that is not revoked yet; null when there is no such active key. */
export async function revokeApiKey(db: Db, id: string): Promise<ApiKeyRow | null> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning();
  return row ?? null;
}

/** Conditional, so concurrent requests of one key write at most once per interval. */
export async function touchApiKey(db: Db, id: string, minIntervalMs: number): Promise<void> {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: sql`now()` })
    .where(
      and(
        eq(apiKeys.id, id),
        or(
          isNull(apiKeys.lastUsedAt),
          lt(apiKeys.lastUsedAt, sql`now() - make_interval(secs => ${minIntervalMs / 1000})`),
        ),
      ),
    );
}

export async function insertAuditEntry(db: Db, entry: typeof auditLog.$inferInsert): Promise<void> {
  await db.insert(auditLog).values(entry);
}

/** Where an audit page ends: an entry's time to the microsecond (UTC) and its public id. */
export type AuditPosition = { at: string; id: string };

/** An organization's entries newest first, after `before` when given, each with its position. */
export async function listAuditEntries(
  db: Db,
  orgId: string,
  page: { limit: number; before: AuditPosition | null },
): Promise<Array<{ entry: AuditLogRow; at: string }>> {
  const where: SQL[] = [eq(auditLog.orgId, orgId)];
  if (page.before) {
    where.push(
      sql`(${auditLog.createdAt}, ${auditLog.publicId}) < (${page.before.at}::timestamptz, ${page.before.id}::uuid)`,
    );
  }
  return db
    .select({
      entry: auditLog,
      // Microseconds: a Date would round to milliseconds, and the page boundary would skip or repeat entries.
      at: sql<string>`to_char(${auditLog.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.createdAt), desc(auditLog.publicId))
    .limit(page.limit);
}
