/**
 * Graceful shutdown of a real worker process: on SIGTERM it stops taking tasks, finishes what it
 * can within SHUTDOWN_GRACE_MS, releases the rest to the queue and exits; no company is left
 * processing, and another worker finishes the job.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const redisUrl = inject('redisUrl');

describe.skipIf(!redisUrl)('graceful shutdown', () => {
  let api: TestSystem;
  const others: TestSystem[] = [];
  beforeAll(async () => {
    // A slow provider, so the worker is stopped with companies in hand.
    api = await startTestSystem({
      queue: 'bullmq',
      roles: { api: true, worker: false },
      sandbox: { latencyMs: 4_000 },
    });
  });
  afterAll(async () => {
    for (const o of others) await o.stop();
    await api?.stop();
  });

  it('releases the companies a stopped worker holds, and exits', async () => {
    const domains = Array.from({ length: 30 }, (_, i) => `shutdown-${i}.com`);
    const { id } = (await (await upload(api.baseUrl, csvFile(['domain', ...domains]))).json()) as Job;
    const getJob = async () =>
      (await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;

    const worker = spawn(process.execPath, ['--import', 'tsx', 'apps/server/src/main-worker.ts'], {
      cwd: ROOT,
      stdio: 'ignore',
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'error',
        DATABASE_URL: api.databaseUrl,
        REDIS_URL: redisUrl!,
        QUEUE_PREFIX: api.system.config.QUEUE_PREFIX,
        SANDBOX_URL: api.sandbox.url,
        SANDBOX_API_KEY: 'test-key',
        METRICS_PORT: '0',
        SHUTDOWN_GRACE_MS: '300',
      },
    });
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    await expect.poll(async () => (await getJob()).counts.processing, { timeout: 20_000 }).toBeGreaterThan(0);

    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    const job = await getJob();
    expect(job.counts.processing).toBe(0);
    const held = await api.system.database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from companies where job_id = ${id} and status = 'processing'`,
    );
    expect(held.rows[0]?.n).toBe(0);
    await expectJobInvariants(api.system.database.db);

    // What it released, another worker finishes.
    others.push(
      await startTestSystem({ queue: 'bullmq', roles: { api: false, worker: true }, shareWith: api }),
    );
    await expect.poll(async () => (await getJob()).status, { timeout: 30_000 }).toBe('completed');
  }, 60_000);
});
