import type { SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
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

const dialect = new PgDialect();

/**
 * Runs `query` as the named prepared statement `name`: PostgreSQL parses and plans it once per
 * connection instead of on every call. For the statements a worker runs for every batch (claims,
 * outcomes, the ledger), planning cost more than some of their executions. The text must be the
 * same on every call (values go in parameters); behind PgBouncer in transaction mode this needs
 * its `max_prepared_statements` (docs/operations.md).
 */
export async function executePrepared<T>(db: Db, name: string, query: SQL): Promise<{ rows: T[] }> {
  const prepared = db._.session.prepareQuery(dialect.sqlToQuery(query), undefined, name, false);
  return (await prepared.execute()) as { rows: T[] };
}
