/**
 * One chaos run, shared by the test (apps/server/test/chaos.test.ts, a few minutes) and the
 * benchmark (bench/chaos.ts, larger): two worker processes, the sandbox with latency, 10 % 5xx and
 * a rate limit; during the run one worker is killed with SIGKILL, Redis loses everything and
 * PostgreSQL restarts. It runs its own PostgreSQL (embedded) and its own Redis server, so
 * restarting them cannot disturb anything running beside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { connectDatabase, type Database } from '../src/db/database';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { startSandboxServer } from '../src/providers/sandbox/sandbox-server';
import { createSystem, type System } from '../src/system';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ADMIN_KEY = 'gtm_chaos-admin-key-0123456789abcdefghijklmnopq';

export type ChaosOptions = {
  companies: number;
  workerConcurrency: number;
  pgPort: number;
  redisPort: number;
  /** Waits for a condition; the test passes expect.poll, the benchmark a plain loop. */
  waitFor: (what: string, check: () => Promise<boolean>, timeoutMs: number) => Promise<void>;
};

export type ChaosResult = {
  companies: number;
  faults: string[];
  job: Job;
  seconds: number;
  /** Seconds from each fault to the next company finished. */
  recoverySeconds: number[];
  /** Businesses the provider was asked to enrich more than once. */
  enrichedTwice: number;
  providerCalls: number;
  /** Checks the job's counters against its companies (a test assertion or a bench check). */
  withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T>;
};

export async function redisServerAvailable(): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const p = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult & { cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gtm-chaos-'));
  await chmod(dir, 0o755);
  let pg = await startEmbeddedPostgres({ dataDir: dir, port: opts.pgPort, log: () => {} });
  const redis: ChildProcess = spawn(
    'redis-server',
    ['--port', String(opts.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const redisUrl = `redis://127.0.0.1:${opts.redisPort}`;
  await opts.waitFor(
    'redis up',
    async () => {
      const r = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null });
      r.on('error', () => undefined); // refused until the server is up: that is what we wait for
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        r.disconnect();
      }
    },
    10_000,
  );
  const sandbox = await startSandboxServer({ latencyMs: 40, errorRate: 0.1, rateLimitPerMin: 1_200 });
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_URL: pg.url,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: 'chaos',
    SANDBOX_URL: sandbox.url,
    SANDBOX_RATE_LIMIT_PER_MIN: '1200',
    BOOTSTRAP_API_KEY: ADMIN_KEY,
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    TASK_MAX_ATTEMPTS: '20',
    TASK_BACKOFF_BASE_MS: '100',
    TASK_BACKOFF_MAX_MS: '1000',
    PROVIDER_TIMEOUT_MS: '3000',
    CLAIM_LEASE_MS: '8000',
    SWEEP_INTERVAL_MS: '2000',
    METRICS_PORT: '0',
  };
  const api: System = await createSystem({
    config: loadConfig({ ...env, PORT: '0' }),
    logger: pino({ level: 'silent' }),
    databaseUrl: pg.url,
    roles: { api: true, worker: false },
    provider: { name: 'sandbox', baseUrl: sandbox.url, apiKey: 'sandbox', stop: async () => {} },
  });
  const baseUrl = (await api.start())!;
  const workers: ChildProcess[] = [];
  const startWorker = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/server/src/main-worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    workers.push(child);
    return child;
  };
  const cleanup = async () => {
    for (const w of workers) w.kill('SIGKILL');
    await api.stop().catch(() => undefined);
    await sandbox.close();
    redis.kill('SIGKILL');
    await pg.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const getJob = async (id: string): Promise<Job | null> => {
      try {
        const res = await fetch(`${baseUrl}/api/v1/jobs/${id}`, { headers: auth });
        return res.ok ? ((await res.json()) as Job) : null;
      } catch {
        return null; // PostgreSQL is restarting: ask again.
      }
    };
    const done = (j: Job | null) => (j ? j.counts.enriched + j.counts.not_found + j.counts.failed : 0);

    const form = new FormData();
    const domains = Array.from({ length: opts.companies }, (_, i) => `chaos-${i}.com`);
    form.append('file', new File([['domain', ...domains].join('\n')], 'chaos.csv', { type: 'text/csv' }));
    const res = await fetch(`${baseUrl}/api/v1/uploads`, { method: 'POST', body: form, headers: auth });
    const created = (await res.json()) as Job;
    if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${JSON.stringify(created)}`);
    const id = created.id;
    const victim = startWorker();
    startWorker();
    const started = performance.now();
    const faults: string[] = [];
    const recoverySeconds: number[] = [];

    const progressPast = (share: number) =>
      opts.waitFor(
        `${share * 100} % done`,
        async () => done(await getJob(id)) > opts.companies * share,
        120_000,
      );
    const timeRecovery = async () => {
      const at = performance.now();
      const before = done(await getJob(id));
      await opts.waitFor('progress after the fault', async () => done(await getJob(id)) > before, 120_000);
      recoverySeconds.push((performance.now() - at) / 1000);
    };

    await progressPast(0.2);
    victim.kill('SIGKILL');
    faults.push('worker killed');
    startWorker();
    await timeRecovery();

    await progressPast(0.45);
    const r = new Redis(redisUrl);
    await r.flushall();
    r.disconnect();
    faults.push('redis flushed');
    await timeRecovery();

    await progressPast(0.65);
    await pg.stop();
    pg = await startEmbeddedPostgres({ dataDir: dir, port: opts.pgPort, log: () => {} });
    faults.push('postgres restarted');
    await timeRecovery();

    await opts.waitFor('job completed', async () => (await getJob(id))?.status === 'completed', 180_000);
    const job = (await getJob(id))!;
    const stats = sandbox.stats();
    return {
      companies: opts.companies,
      faults,
      job,
      seconds: (performance.now() - started) / 1000,
      recoverySeconds,
      enrichedTwice: Object.values(stats.businessIdsEnriched).filter((n) => n > 1).length,
      providerCalls: Object.values(stats.calls).reduce((a, b) => a + b, 0),
      async withDatabase(fn) {
        const handle = connectDatabase(pg.url, { poolSize: 1 });
        try {
          return await fn(handle.db);
        } finally {
          await handle.close();
        }
      },
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
