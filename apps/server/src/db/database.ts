import type { SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
import pg from 'pg';
import * as schema from './schema';

export type Database = NodePgDatabase<typeof schema> & { $client: pg.Pool | pg.PoolClient };
/** A pooled connection in a transaction of ours (inPoolTransaction), where statements can be prepared. */
export type PooledConnection = pg.PoolClient;
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
export async function executePrepared<T>(
  on: Db | pg.PoolClient,
  name: string,
  query: SQL,
): Promise<{ rows: T[] }> {
  // A Drizzle transaction has no public handle on its connection: run the statement unnamed
  // there (only tests compose these statements into a transaction of their own).
  if (!(on instanceof pg.Client) && !('$client' in on)) return (await on.execute(query)) as { rows: T[] };
  const { sql: text, params } = dialect.sqlToQuery(query);
  const runner = on instanceof pg.Client ? on : (on as Database).$client;
  return runner.query<T & pg.QueryResultRow>({ name, text, values: params });
}

/**
 * Runs `work` in a transaction on one connection taken from `pool` (COPY and named prepared
 * statements need the connection itself). A connection that cannot roll back is closed instead
 * of reused: PostgreSQL then rolls back itself.
 */
export async function withPooledTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    try {
      await client.query('rollback');
    } catch (rollbackErr) {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Runs `work` in a transaction. On the pool, on one pooled connection of our own, so that its
 * statements can be named prepared statements (executePrepared); inside a transaction already (or
 * on one connection), as a Drizzle transaction.
 */
export async function inTransaction<T>(db: Db, work: (on: Db | PooledConnection) => Promise<T>): Promise<T> {
  if (!('$client' in db) || !(db.$client instanceof pg.Pool)) return db.transaction((tx) => work(tx));
  return withPooledTransaction(db.$client, work);
}
