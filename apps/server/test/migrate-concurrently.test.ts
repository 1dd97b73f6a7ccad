/**
 * Indexes of `<tag>.concurrent.sql` files are built by migrateDatabase after the transactional
 * migrations, outside any transaction, without blocking writes to their table while they build;
 * an INVALID index left by a failed build is built again; two processes migrating at once do not
 * deadlock (each waiting for the other). On real PostgreSQL, with a migrations folder of the
 * test's own.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/database';
import { migrateDatabase } from '../src/db/migrate';
import { createTestDatabase } from './test-database';

const TABLE_SQL = 'CREATE TABLE "things" ("id" serial PRIMARY KEY, "v" integer NOT NULL);';

/**
 * The test's migrations: a table, and with `concurrent` a second migration as the documented
 * workflow leaves it, its `.sql` a comment and its index statements in `.concurrent.sql`.
 */
async function writeMigrations(dir: string, concurrent?: string): Promise<void> {
  const entries = [{ idx: 0, version: '7', when: 1_700_000_000_000, tag: '0000_things', breakpoints: true }];
  await writeFile(path.join(dir, '0000_things.sql'), TABLE_SQL);
  if (concurrent !== undefined) {
    entries.push({ idx: 1, version: '7', when: 1_700_000_100_000, tag: '0001_things_v', breakpoints: true });
    await writeFile(
      path.join(dir, '0001_things_v.sql'),
      '-- Built concurrently: 0001_things_v.concurrent.sql',
    );
    await writeFile(path.join(dir, '0001_things_v.concurrent.sql'), concurrent);
  }
  await writeFile(
    path.join(dir, 'meta/_journal.json'),
    JSON.stringify({ version: '7', dialect: 'postgresql', entries }),
  );
}

describe('indexes built concurrently by the migrations', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DatabaseHandle;
  let dir: string;
  const clients: pg.Client[] = [];
  const connect = async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  };
  const indexState = async (name: string) =>
    (
      await handle.pool.query<{ valid: boolean; oid: number }>(
        'select indisvalid as valid, indexrelid::int as oid from pg_index where indexrelid = to_regclass($1)',
        [name],
      )
    ).rows[0] ?? null;
  /** The phase of the index build under way on `things`, if one is. */
  const buildPhase = async () =>
    (
      await handle.pool.query<{ phase: string }>(
        "select phase from pg_stat_progress_create_index where relid = to_regclass('things')",
      )
    ).rows[0]?.phase ?? null;
  /** Sessions waiting for a lock on `things`. */
  const waitingForLock = async () =>
    (
      await handle.pool.query<{ n: number }>(
        "select count(*)::int as n from pg_locks where relation = to_regclass('things') and not granted",
      )
    ).rows[0]?.n;

  beforeEach(async () => {
    database = await createTestDatabase();
    handle = connectDatabase(database.url, { poolSize: 4 });
    dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
    await mkdir(path.join(dir, 'meta'));
    await writeMigrations(dir);
    await migrateDatabase(handle, dir);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end().catch(() => undefined);
    await handle?.close();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('builds the index outside a transaction while writes to the table go on', async () => {
    // A writer whose transaction is open: an index build waits for it before it starts.
    const openWriter = await connect();
    await openWriter.query('begin');
    await openWriter.query('insert into things (v) values (1)');
    const writer = await connect();
    await writer.query("set lock_timeout = '1s'");

    // As drizzle would run it, in the migration's transaction, a plain CREATE INDEX queues for its
    // lock behind the open writer, and every later write queues behind it.
    const inTransaction = await connect();
    await inTransaction.query('begin');
    const plainBuild = inTransaction.query('create index "things_v_plain" on things (v)');
    await expect.poll(waitingForLock).toBe(1);
    await expect(writer.query('insert into things (v) values (2)')).rejects.toMatchObject({ code: '55P03' });
    await openWriter.query('commit');
    await plainBuild;
    await inTransaction.query('rollback');

    await openWriter.query('begin');
    await openWriter.query('insert into things (v) values (3)');
    await writeMigrations(
      dir,
      '-- Large table: built without blocking writes.\n' +
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "things_v_idx" ON "things" USING btree ("v");',
    );
    let migrated = false;
    const migration = migrateDatabase(handle, dir).then(() => {
      migrated = true;
    });
    await expect.poll(buildPhase).toMatch(/waiting/);
    // The build is under way and waits for the open writer; another write goes through at once.
    await writer.query('insert into things (v) values (4)');
    expect(await indexState('things_v_idx')).toMatchObject({ valid: false });
    expect(migrated).toBe(false);
    await openWriter.query('commit');
    await migration;
    expect(await indexState('things_v_idx')).toMatchObject({ valid: true });
    expect((await handle.pool.query('select count(*)::int as n from things')).rows[0]).toEqual({ n: 3 });
  });

  it('builds again an index a failed build left INVALID, and leaves a valid one alone', async () => {
    await handle.pool.query('insert into things (v) values (1), (1), (2)');
    await writeMigrations(
      dir,
      'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "things_v_uq" ON "things" ("v");',
    );
    await expect(migrateDatabase(handle, dir)).rejects.toMatchObject({ code: '23505' });
    expect(await indexState('things_v_uq')).toMatchObject({ valid: false });
    // IF NOT EXISTS alone would keep the invalid index: the build runs, and fails, again.
    await expect(migrateDatabase(handle, dir)).rejects.toMatchObject({ code: '23505' });

    await handle.pool.query('delete from things where id = (select max(id) from things where v = 1)');
    await migrateDatabase(handle, dir);
    const built = await indexState('things_v_uq');
    expect(built).toMatchObject({ valid: true });
    await migrateDatabase(handle, dir);
    expect(await indexState('things_v_uq')).toEqual(built);
  });

  it('lets two processes migrate at once while an index builds', async () => {
    const other = connectDatabase(database.url, { poolSize: 2 });
    try {
      const openWriter = await connect();
      await openWriter.query('begin');
      await openWriter.query('insert into things (v) values (1)');
      await writeMigrations(dir, 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "things_v_idx" ON "things" ("v");');
      const first = migrateDatabase(handle, dir);
      await expect.poll(buildPhase).toMatch(/waiting/);
      // The second waits for the first's lock while the first's build waits for older snapshots.
      const second = migrateDatabase(other, dir);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await openWriter.query('commit');
      await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
      expect(await indexState('things_v_idx')).toMatchObject({ valid: true });
    } finally {
      await other.close();
    }
  });

  it('refuses a statement other than a concurrent index build', async () => {
    await writeMigrations(dir, 'ALTER TABLE "things" ADD COLUMN "w" integer;');
    await expect(migrateDatabase(handle, dir)).rejects.toThrow(
      /may hold only CREATE \[UNIQUE\] INDEX CONCURRENTLY/,
    );
  });
});
