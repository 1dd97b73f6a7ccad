/**
 * A role that one process at a time plays for the whole installation (feeding the queue), held
 * by a row with an expiry that its holder keeps renewing. Unlike a lock tied to a connection, it
 * goes with the process's ability to act: a process killed, frozen (SIGSTOP) or cut off from the
 * database stops renewing and loses the role within `ttlMs`, and another takes it over.
 */
import { sql } from 'drizzle-orm';
import type { Db } from './database';

export type RoleLease = {
  /** Whether this process holds the role now, taking it when it is free or lapsed. Never throws. */
  held(): Promise<boolean>;
  /** Gives the role up at once, so another process need not wait for the expiry. */
  release(): Promise<void>;
};

export function createRoleLease(opts: {
  db: Db;
  role: string;
  /** This process. */
  holder: string;
  /** How long the role outlives the holder's last renewal, in ms. */
  ttlMs: number;
  onError?: (err: unknown) => void;
}): RoleLease {
  // Renew (or try to take the role) at most this often; the answer in between is remembered.
  const checkEveryMs = opts.ttlMs / 5;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let holding = false;
  let released = false;

  async function claim(): Promise<boolean> {
    const result = await opts.db.execute<{ holder: string }>(sql`
      insert into role_leases (role, holder, expires_at)
      values (${opts.role}, ${opts.holder}::uuid, now() + make_interval(secs => ${opts.ttlMs / 1000}))
      on conflict (role) do update set holder = excluded.holder, expires_at = excluded.expires_at
      where role_leases.holder = excluded.holder or role_leases.expires_at < now()
      returning holder
    `);
    return result.rows.length === 1;
  }

  return {
    async held() {
      if (released) return false;
      const now = performance.now();
      // A process that was frozen sees its clock jump past this and asks the database again.
      if (now - checkedAt < checkEveryMs) return holding;
      checkedAt = now;
      try {
        holding = await claim();
      } catch (err) {
        holding = false;
        opts.onError?.(err);
      }
      return holding;
    },
    async release() {
      released = true;
      if (!holding) return;
      holding = false;
      await opts.db
        .execute(sql`delete from role_leases where role = ${opts.role} and holder = ${opts.holder}::uuid`)
        .catch((err: unknown) => opts.onError?.(err));
    },
  };
}
