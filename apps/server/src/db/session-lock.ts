/**
 * A PostgreSQL session advisory lock held on a connection of its own: at most one process of an
 * installation holds it at a time, and it goes with the process (a crash, a lost connection, a
 * restarted server end the session, and the lock with it). Used to let one worker at a time feed
 * the queue (system.ts).
 */
import pg from 'pg';

export type SessionLock = {
  /** Whether this process holds the lock, taking it when it is free. Never throws. */
  held(): Promise<boolean>;
  /** Releases the lock (ends the session). */
  close(): Promise<void>;
};

export function createSessionLock(opts: {
  databaseUrl: string;
  /** Any constant; advisory locks are per database, so installations do not meet. */
  key: number;
  onError?: (err: Error) => void;
}): SessionLock {
  let client: pg.Client | null = null;
  let holding = false;
  let closed = false;

  function drop(c: pg.Client): void {
    if (client !== c) return;
    client = null;
    holding = false;
    c.end().catch(() => {});
  }

  return {
    async held() {
      if (closed) return false;
      if (holding) return true;
      try {
        if (!client) {
          const c = new pg.Client({ connectionString: opts.databaseUrl });
          // A lost session has lost the lock too: forget both, and try again on the next call.
          c.on('error', (err) => {
            opts.onError?.(err);
            drop(c);
          });
          c.on('end', () => drop(c));
          client = c;
          await c.connect();
        }
        const c = client;
        const result = await c.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [
          opts.key,
        ]);
        holding = client === c && result.rows[0]?.locked === true;
        return holding;
      } catch (err) {
        opts.onError?.(err as Error);
        if (client) drop(client);
        return false;
      }
    },
    async close() {
      closed = true;
      const c = client;
      client = null;
      holding = false;
      await c?.end().catch(() => {});
    },
  };
}
