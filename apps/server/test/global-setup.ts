/**
 * Tests always run on a real PostgreSQL: DATABASE_URL when set (CI sets it), otherwise an
 * embedded one started here for the whole run. Redis is used when REDIS_URL is set.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string | null;
  }
}

const EMBEDDED_TEST_PG_PORT = 54_339;

export default async function setup(project: TestProject) {
  project.provide('redisUrl', process.env.REDIS_URL || null);
  if (process.env.DATABASE_URL) {
    project.provide('databaseUrl', process.env.DATABASE_URL);
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'gtm-enrich-test-'));
  // mkdtemp makes it private; as root, PostgreSQL runs as the postgres user, who must get through it.
  await chmod(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: dir, port: EMBEDDED_TEST_PG_PORT, log: () => {} });
  // The superuser's: tests create a database each.
  project.provide('databaseUrl', pg.adminUrl);
  return async () => {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
