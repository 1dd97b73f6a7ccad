/** The expiring lease that lets one worker at a time feed a shared queue. */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/database';
import { createRoleLease } from '../src/db/role-lease';
import { openMigratedTestDatabase } from './test-database';

const TTL_MS = 1_000;

describe('role lease', () => {
  let opened: Awaited<ReturnType<typeof openMigratedTestDatabase>>;
  let handle: DatabaseHandle;
  const lease = (role: string, holder = randomUUID()) =>
    createRoleLease({ db: handle.db, role, holder, ttlMs: TTL_MS });
  beforeAll(async () => {
    opened = await openMigratedTestDatabase('org_role_lease');
    handle = opened.database;
  });
  afterAll(async () => {
    await opened.close();
  });

  it('is held by one holder at a time, and passes on at once when released', async () => {
    const a = lease('feeder-1');
    const b = lease('feeder-1');
    expect(await a.held()).toBe(true);
    expect(await a.held()).toBe(true);
    expect(await b.held()).toBe(false);
    await a.release();
    expect(await a.held()).toBe(false);
    await expect.poll(() => b.held(), { timeout: 2_000, interval: 50 }).toBe(true);
  });

  it('passes on within its ttl when the holder stops renewing (killed, frozen or cut off)', async () => {
    const a = lease('feeder-2');
    const b = lease('feeder-2');
    expect(await a.held()).toBe(true);
    // a goes silent: it never asks again. b takes the role once a's lease has run out.
    const silentAt = performance.now();
    await expect.poll(() => b.held(), { timeout: 3 * TTL_MS, interval: 50 }).toBe(true);
    expect(performance.now() - silentAt).toBeGreaterThanOrEqual(TTL_MS * 0.8);
    // a, back, finds the role taken and does not act as the holder any more.
    await expect.poll(() => a.held(), { timeout: 2 * TTL_MS, interval: 50 }).toBe(false);
    const rows = await handle.db.execute<{ n: number }>(
      sql`select count(*)::int as n from role_leases where role = 'feeder-2'`,
    );
    expect(rows.rows[0]!.n).toBe(1);
  });

  it('says no, without throwing, while the database cannot be reached', async () => {
    const cut = connectDatabase('postgres://postgres@127.0.0.1:1/none', { poolSize: 1 });
    const errors: unknown[] = [];
    const l = createRoleLease({
      db: cut.db,
      role: 'feeder-3',
      holder: randomUUID(),
      ttlMs: TTL_MS,
      onError: (e) => errors.push(e),
    });
    expect(await l.held()).toBe(false);
    expect(errors).toHaveLength(1);
    await cut.close();
  });
});
