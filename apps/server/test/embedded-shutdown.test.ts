/**
 * `npm start` stopped with Ctrl-C in the middle of a job: the terminal signals the whole process
 * group (npm, its shell, node) and npm forwards the signal again. The system must still finish
 * or release the companies it holds and record its provider calls before its embedded
 * PostgreSQL goes, and stop cleanly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const KEY = 'gtm_embedded-shutdown-key-0123456789abcdefghijk';
const AUTH = { authorization: `Bearer ${KEY}` };

describe.skipIf(process.platform === 'win32')('npm start, stopped with Ctrl-C', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  it('finishes or releases what it holds, records its calls, then stops its PostgreSQL', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'gtm-enrich-embedded-'));
    // As root, PostgreSQL runs as the postgres user, who must get through the directory.
    await chmod(dataDir, 0o755);
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const pgPort = 56_000 + Math.floor(Math.random() * 1_000);
    const { DATABASE_URL: _db, REDIS_URL: _redis, ...env } = process.env;

    // Its own process group, as a terminal's foreground job has.
    const app: ChildProcess = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...env,
        NODE_ENV: 'production',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
        PORT: '0',
        METRICS_PORT: '0',
        DATA_DIR: dataDir,
        EMBEDDED_POSTGRES_PORT: String(pgPort),
        WEB_DIR: dataDir,
        BOOTSTRAP_API_KEY: KEY,
        SANDBOX_LATENCY_MS: '400',
        WORKER_CONCURRENCY: '40',
      },
    });
    cleanup.push(async () => {
      if (app.exitCode === null) process.kill(-app.pid!, 'SIGKILL');
    });
    const exited = new Promise<number | null>((resolve) => app.once('exit', (code) => resolve(code)));
    let output = '';
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const ready = /"msg":"ready: open (http:\/\/[^ ]+) /.exec(output);
        if (ready) resolve(ready[1]!);
      };
      app.stdout!.on('data', onData);
      app.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`npm start exited early:\n${output}`)));
    });

    const domains = Array.from({ length: 600 }, (_, i) => `embedded-stop-${i}.com`);
    const form = new FormData();
    form.append('file', new File([['domain', ...domains].join('\n')], 'list.csv', { type: 'text/csv' }));
    const created = (await (
      await fetch(`${baseUrl}/api/v1/uploads`, { method: 'POST', body: form, headers: AUTH })
    ).json()) as Job;
    const job = async () =>
      (await (await fetch(`${baseUrl}/api/v1/jobs/${created.id}`, { headers: AUTH })).json()) as Job;
    await expect.poll(async () => (await job()).counts.processing, { timeout: 30_000 }).toBeGreaterThan(0);

    // npm and its shell may end before the server does (npm re-raises the signal on itself once
    // its child ends): follow the server's own process, named in its log lines.
    const serverPid = Number(/"pid":(\d+)/.exec(output)?.[1]);
    process.kill(-app.pid!, 'SIGINT');
    const alive = () => {
      try {
        process.kill(serverPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await expect.poll(alive, { timeout: 60_000, interval: 200 }).toBe(false);
    await exited;
    expect(output).toContain('"msg":"stopped"');
    expect(output).not.toContain('asked again');

    // Its PostgreSQL stopped with it; start it alone to read what was left.
    const database = await startEmbeddedPostgres({ dataDir, port: pgPort, log: () => {} });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const statuses = await client.query<{ status: string; n: number }>(
        'select status, count(*)::int as n from companies group by status',
      );
      const counts = Object.fromEntries(statuses.rows.map((r) => [r.status, r.n]));
      expect(counts.processing ?? 0).toBe(0);
      expect((counts.enriched ?? 0) + (counts.not_found ?? 0)).toBeGreaterThan(0);
      // Every company the provider answered came through a call the ledger holds.
      const answered = await client.query<{ n: number }>(
        `select count(*)::int as n from companies where source = 'provider'`,
      );
      const matched = await client.query<{ n: number }>(
        `select coalesce(sum(items), 0)::int as n from provider_calls where endpoint = 'match'`,
      );
      expect(matched.rows[0]!.n).toBeGreaterThanOrEqual(answered.rows[0]!.n);
      const jobRow = await client.query<{ processing_count: number; queued_count: number }>(
        'select processing_count, queued_count from jobs where id = $1',
        [created.id],
      );
      expect(jobRow.rows[0]).toMatchObject({ processing_count: 0, queued_count: counts.queued ?? 0 });
    } finally {
      await client.end();
      await database.stop();
    }
  }, 120_000);
});
