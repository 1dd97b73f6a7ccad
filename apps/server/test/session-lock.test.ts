/** The session advisory lock that lets one worker at a time feed a shared queue. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionLock, type SessionLock } from '../src/db/session-lock';
import { createTestDatabase } from './test-database';

const KEY = 4242;

describe('session lock', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const locks: SessionLock[] = [];
  const lock = () => {
    const l = createSessionLock({ databaseUrl: database.url, key: KEY });
    locks.push(l);
    return l;
  };
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const l of locks) await l.close();
    await database.drop();
  });

  it('is held by one holder at a time, and passes on when it is released', async () => {
    const a = lock();
    const b = lock();
    expect(await a.held()).toBe(true);
    expect(await a.held()).toBe(true);
    expect(await b.held()).toBe(false);
    await a.close();
    expect(await a.held()).toBe(false);
    expect(await b.held()).toBe(true);
    await b.close();
  });

  it('goes with its session: a holder whose connection dies loses it, and takes it again when free', async () => {
    const a = lock();
    const b = lock();
    expect(await a.held()).toBe(true);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const killed = await admin.query(
        `select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and objid = $1 and granted`,
        [KEY],
      );
      expect(killed.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    // The lock ended with a's session: b takes it, and a, reconnected, finds it taken.
    await expect.poll(() => b.held(), { timeout: 5_000 }).toBe(true);
    await expect.poll(() => a.held(), { timeout: 5_000 }).toBe(false);
    await b.close();
    await expect.poll(() => a.held(), { timeout: 5_000 }).toBe(true);
  });
});
