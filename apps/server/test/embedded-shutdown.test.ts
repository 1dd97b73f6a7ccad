/**
 * `npm start` stopped with Ctrl-C in the middle of a job: the terminal signals the whole process
 * group (npm, its shell, node) and npm forwards the signal again. The system must still finish
 * or release the companies it holds and record its provider calls before its embedded
 * PostgreSQL goes, and stop cleanly.
 *
 * `npm start` killed outright (SIGKILL to its whole group): its embedded PostgreSQL must not
 * outlive it, and with its watchdog killed too the next start must stop the leftover server and
 * start, not refuse. The database belongs to the server: random credentials in a private file,
 * an application role that is no superuser, and the CLI finding those credentials by itself.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** `npm start` in a process group of its own (a terminal's foreground job), answered once it is ready. */
async function startServer(
  dataDir: string,
  pgPort: number,
): Promise<{ app: ChildProcess; baseUrl: string; output: () => string; exited: Promise<number | null> }> {
  const { DATABASE_URL: _db, REDIS_URL: _redis, ...env } = process.env;
  const app = spawn('npm', ['start'], {
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
    },
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
  return { app, baseUrl, output: () => output, exited };
}

type Owner = { owner: number; watchdog: number; postgres: number };

describe.skipIf(process.platform === 'win32')('npm start, killed outright', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  it('keeps its PostgreSQL to itself and takes it down when killed, or the next start does', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'gtm-enrich-embedded-kill-'));
    await chmod(dataDir, 0o755);
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const pgPort = 57_000 + Math.floor(Math.random() * 1_000);
    const owner = async () =>
      JSON.parse(await readFile(path.join(dataDir, 'postgres-owner.json'), 'utf8')) as Owner;
    const killAll = async () => {
      for (const pid of Object.values(await owner().catch(() => ({})))) {
        if (typeof pid === 'number' && alive(pid)) process.kill(pid, 'SIGKILL');
      }
    };
    cleanup.push(killAll);

    const first = await startServer(dataDir, pgPort);
    cleanup.push(async () => {
      if (first.app.exitCode === null) process.kill(-first.app.pid!, 'SIGKILL');
    });
    // The credentials: random, in a file only its user reads.
    const credentialsFile = path.join(dataDir, 'postgres-credentials.json');
    expect((await stat(credentialsFile)).mode & 0o777).toBe(0o600);
    const credentials = JSON.parse(await readFile(credentialsFile, 'utf8')) as {
      app: { user: string; password: string };
      superuser: { password: string };
    };
    expect(credentials.superuser.password).not.toBe('embedded');
    const app = new pg.Client({
      connectionString: `postgres://${credentials.app.user}:${encodeURIComponent(credentials.app.password)}@127.0.0.1:${pgPort}/gtm_enrich`,
    });
    await app.connect();
    try {
      const role = await app.query<{ rolsuper: boolean }>(
        'select rolsuper from pg_roles where rolname = current_user',
      );
      expect(role.rows).toEqual([{ rolsuper: false }]);
      await expect(app.query("copy (select 1) to program 'id'")).rejects.toThrow(/permission denied/);
      // It owns its own data: the application's tables are its.
      const foreign = await app.query<{ n: number }>(
        "select count(*)::int as n from pg_tables where schemaname = 'public' and tableowner <> current_user",
      );
      expect(foreign.rows).toEqual([{ n: 0 }]);
    } finally {
      await app.end();
    }
    // The fixed password of older versions opens nothing.
    const legacy = new pg.Client({
      connectionString: `postgres://postgres:embedded@127.0.0.1:${pgPort}/postgres`,
    });
    await expect(legacy.connect()).rejects.toThrow(/password authentication failed/);
    await legacy.end().catch(() => {});
    // The CLI finds the credentials by itself (no DATABASE_URL) and joins the running database.
    const { DATABASE_URL: _db, ...cliEnv } = process.env;
    const listed = await promisify(execFile)(
      'node',
      ['--import', 'tsx', 'apps/server/src/cli.ts', 'key', 'list'],
      {
        cwd: ROOT,
        env: { ...cliEnv, DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(pgPort), LOG_LEVEL: 'silent' },
      },
    );
    expect(listed.stdout).toMatch(/^PREFIX\s+ORG/m);
    expect(listed.stdout).toContain('bootstrap');

    // SIGKILL to the whole group: npm, its shell and the server die at once; nothing runs a handler.
    const firstRun = await owner();
    process.kill(-first.app.pid!, 'SIGKILL');
    await first.exited;
    await expect.poll(() => alive(firstRun.postgres), { timeout: 15_000, interval: 100 }).toBe(false);
    await expect.poll(() => alive(firstRun.watchdog), { timeout: 5_000, interval: 100 }).toBe(false);

    // The server and its watchdog killed together: the next start stops the leftover PostgreSQL.
    const second = await startServer(dataDir, pgPort);
    cleanup.push(async () => {
      if (second.app.exitCode === null) process.kill(-second.app.pid!, 'SIGKILL');
    });
    expect((await fetch(`${second.baseUrl}/api/v1/me`, { headers: AUTH })).status).toBe(200);
    const secondRun = await owner();
    process.kill(secondRun.watchdog, 'SIGKILL');
    process.kill(-second.app.pid!, 'SIGKILL');
    await second.exited;
    expect(alive(secondRun.postgres)).toBe(true);

    const third = await startServer(dataDir, pgPort);
    cleanup.push(async () => {
      if (third.app.exitCode === null) process.kill(-third.app.pid!, 'SIGKILL');
    });
    expect(alive(secondRun.postgres)).toBe(false);
    expect((await fetch(`${third.baseUrl}/api/v1/me`, { headers: AUTH })).status).toBe(200);
    const thirdRun = await owner();
    process.kill(-third.app.pid!, 'SIGINT');
    await third.exited;
    expect(third.output()).toContain('"msg":"stopped"');
    await expect.poll(() => alive(thirdRun.postgres), { timeout: 15_000, interval: 100 }).toBe(false);
  }, 180_000);
});
