import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { DatabaseHandle } from './database';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));
// Any constant: every process that migrates takes the same advisory lock, so an api and N
// workers starting together apply each migration once.
const MIGRATION_LOCK_ID = 7_342_001;

export async function migrateDatabase({ db, pool }: DatabaseHandle): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

export class SchemaBehindError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `The database lacks ${missing.length} migration(s) this build needs (${missing.join(', ')}): ` +
        'run the migrations first (`node apps/server/dist/cli.js db migrate`, the compose `migrate` ' +
        'service), or start with MIGRATE_ON_START=true.',
    );
    this.name = 'SchemaBehindError';
  }
}

/**
 * With MIGRATE_ON_START=false (a separate migrate step, as in a rolling deploy): refuse to start
 * on a schema older than this build's, which would fail at its first query. A newer schema is
 * fine: migrations are expand/contract (docs/operations.md), so a new schema serves old code.
 */
export async function assertSchemaCurrent({ pool }: DatabaseHandle): Promise<void> {
  const journal = JSON.parse(await readFile(`${MIGRATIONS_DIR}/meta/_journal.json`, 'utf8')) as {
    entries: Array<{ tag: string; when: number }>;
  };
  // drizzle records each applied migration with its journal timestamp (`when`) as created_at.
  const applied = await pool
    .query<{ created_at: string }>('select created_at from drizzle.__drizzle_migrations')
    .then(
      (r) => new Set(r.rows.map((row) => Number(row.created_at))),
      (err: { code?: string }) => {
        // 42P01 / 3F000: no migrations table or schema yet, a database never migrated.
        if (err.code === '42P01' || err.code === '3F000') return new Set<number>();
        throw err;
      },
    );
  const missing = journal.entries.filter((e) => !applied.has(e.when)).map((e) => e.tag);
  if (missing.length > 0) throw new SchemaBehindError(missing);
}
