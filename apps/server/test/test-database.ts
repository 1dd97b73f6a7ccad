/** One fresh database per test file, so files run in parallel without sharing state. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connectDatabase, type DatabaseHandle, type Db } from '../src/db/database';
import { migrateDatabase } from '../src/db/migrate';
import { companies } from '../src/db/schema';
import { ensureOrganization } from '../src/jobs/jobs.repository';

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = inject('databaseUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/**
 * A fresh database, migrated, with organization `orgId` made, for tests that use the repositories
 * without a whole system; `close()` closes its pool and drops it.
 */
export async function openMigratedTestDatabase(
  orgId: string,
): Promise<{ database: DatabaseHandle; url: string; close(): Promise<void> }> {
  const created = await createTestDatabase();
  const database = connectDatabase(created.url, { poolSize: 4 });
  await migrateDatabase(database);
  await ensureOrganization(database.db, orgId);
  return {
    database,
    url: created.url,
    async close() {
      await database.close();
      await created.drop();
    },
  };
}

/**
 * Companies of a job, written directly (tests only: an upload writes them as its file is read,
 * intake/job-rows.repository.ts).
 */
export async function insertCompanies(
  db: Db,
  orgId: string,
  jobId: string,
  rows: readonly { domain: string; input: string; rowNumber: number }[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 2_000) {
    await db.insert(companies).values(rows.slice(i, i + 2_000).map((r) => ({ ...r, orgId, jobId })));
  }
}
