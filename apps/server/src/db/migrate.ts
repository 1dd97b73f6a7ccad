import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type pg from 'pg';
import type { DatabaseHandle } from './database';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));
// Any constant: every process that migrates takes the same advisory lock, so an api and N
// workers starting together apply each migration once.
const MIGRATION_LOCK_ID = 7_342_001;
/** How often a process waiting for another's migrations asks for the lock again. */
const LOCK_RETRY_MS = 250;

type Journal = { entries: Array<{ tag: string; when: number }> };

const readJournal = async (dir: string): Promise<Journal> =>
  JSON.parse(await readFile(path.join(dir, 'meta/_journal.json'), 'utf8')) as Journal;

/**
 * Applies the pending migrations, then builds the indexes of `<tag>.concurrent.sql` files (see
 * buildIndexesConcurrently), under one advisory lock. `migrationsDir` is for tests.
 */
export async function migrateDatabase(
  { db, pool }: DatabaseHandle,
  migrationsDir = MIGRATIONS_DIR,
): Promise<void> {
  const client = await pool.connect();
  try {
    // Asked again and again rather than waited for in one statement: a statement waiting for the
    // lock keeps a snapshot open, and CREATE INDEX CONCURRENTLY in the holder waits for every
    // older snapshot to end, so the two would wait for each other.
    while (!(await client.query('select pg_try_advisory_lock($1) as ok', [MIGRATION_LOCK_ID])).rows[0]?.ok) {
      await sleep(LOCK_RETRY_MS);
    }
    await migrate(db, { migrationsFolder: migrationsDir });
    await buildIndexesConcurrently(client, migrationsDir);
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

const CONCURRENT_INDEX =
  /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+"?([A-Za-z_][\w$]*)"?\s/i;

/**
 * An index on a large table (companies, job_rows) must not block writes while it builds, which
 * takes CREATE INDEX CONCURRENTLY; PostgreSQL refuses that inside a transaction, and drizzle runs
 * each migration in one. Such statements therefore go in `<tag>.concurrent.sql` beside their
 * migration (drizzle reads only `<tag>.sql`), split like migrations by `--> statement-breakpoint`,
 * each `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS "<name>" …`. They run here, in journal
 * order, after every transactional migration, each outside any transaction, at every migration
 * run: one whose index exists and is valid returns at once. A build that failed (a duplicate
 * under a unique index) or was interrupted leaves the index INVALID, which IF NOT EXISTS would
 * keep as it is (never used by queries, yet updated by every write): it is dropped, concurrently,
 * and built again.
 */
async function buildIndexesConcurrently(client: pg.PoolClient, migrationsDir: string): Promise<void> {
  for (const { tag } of (await readJournal(migrationsDir)).entries) {
    const text = await readFile(path.join(migrationsDir, `${tag}.concurrent.sql`), 'utf8').catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      },
    );
    if (text === null) continue;
    const statements = text
      .split('--> statement-breakpoint')
      .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
      .filter(Boolean);
    for (const statement of statements) {
      const name = CONCURRENT_INDEX.exec(statement)?.[1];
      if (!name) {
        throw new Error(
          `${tag}.concurrent.sql may hold only CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS statements; ` +
            `found: ${statement.slice(0, 120)}`,
        );
      }
      const existing = await client.query<{ valid: boolean }>(
        'select indisvalid as valid from pg_index where indexrelid = to_regclass(quote_ident($1))',
        [name],
      );
      if (existing.rows[0]?.valid === false) {
        await client.query(`DROP INDEX CONCURRENTLY IF EXISTS "${name}"`);
      }
      await client.query(statement);
    }
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
  const journal = await readJournal(MIGRATIONS_DIR);
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
