import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema';

export type Database = NodePgDatabase<typeof schema>;
/** A transaction handle; repositories take `Db` so a service can compose them in one transaction. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
export type Db = Database | Transaction;

export type DatabaseHandle = {
  db: Database;
  pool: pg.Pool;
  ping(): Promise<void>;
  close(): Promise<void>;
};

export function connectDatabase(
  url: string,
  opts: { poolSize: number; onError?: (err: Error) => void },
): DatabaseHandle {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize });
  // An idle client that loses its server (PostgreSQL restarted) emits 'error'; unhandled, it would end the process.
  pool.on('error', (err) => opts.onError?.(err));
  const db = drizzle(pool, { schema });
  return {
    db,
    pool,
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      await pool.end();
    },
  };
}
