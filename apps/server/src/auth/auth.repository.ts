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

export async function listAuditEntries(
  db: Db,
  orgId: string,
  page: { limit: number; beforeId: number | null },
): Promise<AuditLogRow[]> {
  const where: SQL[] = [eq(auditLog.orgId, orgId)];
  if (page.beforeId !== null) where.push(lt(auditLog.id, page.beforeId));
  return db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(page.limit);
}
