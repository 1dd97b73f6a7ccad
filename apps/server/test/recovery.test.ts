/**
 * The database repairs the queue: tasks lost with Redis, and companies held by a worker that died,
 * are found by the sweep and finished, each enriched once.
 */
import type { Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const redisUrl = inject('redisUrl');

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;
}

describe.skipIf(!redisUrl)('recovery on BullMQ', () => {
  const systems: TestSystem[] = [];
  afterEach(async () => {
    for (const s of systems.reverse()) await s.stop();
    systems.length = 0;
  });

  it('finishes a job whose tasks were lost with Redis', async () => {
    const api = await startTestSystem({ queue: 'bullmq', roles: { api: true, worker: false } });
    systems.push(api);
    const domains = Array.from({ length: 60 }, (_, i) => `lost-queue-${i}.com`);
    const { id } = (await (await upload(api.baseUrl, csvFile(['domain', ...domains]))).json()) as Job;
    await expect.poll(async () => (await api.system.queue.counts()).waiting, { timeout: 10_000 }).toBe(60);

    // What FLUSHALL does to this queue, without touching other tests' keys.
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${api.system.config.QUEUE_PREFIX}:*`);
    await redis.del(...keys);
    redis.disconnect();
    expect((await api.system.queue.counts()).waiting).toBe(0);

    const worker = await startTestSystem({
      queue: 'bullmq',
      roles: { api: false, worker: true },
      shareWith: api,
    });
    systems.push(worker);
    await expect.poll(async () => (await getJob(api, id)).status, { timeout: 15_000 }).toBe('completed');
    expect(Object.values(api.sandbox.stats().domainsMatched).every((n) => n === 1)).toBe(true);
    await expectJobInvariants(api.system.database.db);
  });

  it('takes over companies whose worker died holding them, once their lease ran out', async () => {
    const api = await startTestSystem({ queue: 'bullmq', roles: { api: true, worker: false } });
    systems.push(api);
    const { id } = (await (
      await upload(api.baseUrl, csvFile(['domain', 'held-1.com', 'held-2.com']))
    ).json()) as Job;
    // A worker claimed both and died: processing, a lapsed lease, no task left in the queue.
    const db = api.system.database.db;
    await db.execute(sql`
      update companies set status = 'processing', attempts = 1, lease_expires_at = now() - interval '1 second'
      where job_id = ${id}`);
    await db.execute(sql`
      update jobs set status = 'running', queued_count = 0, processing_count = 2, started_at = now() where id = ${id}`);
    const redis = new Redis(redisUrl!);
    const keys = await redis.keys(`${api.system.config.QUEUE_PREFIX}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();

    const worker = await startTestSystem({
      queue: 'bullmq',
      roles: { api: false, worker: true },
      shareWith: api,
      env: { SWEEP_INTERVAL_MS: '1000' },
    });
    systems.push(worker);
    await expect.poll(async () => (await getJob(api, id)).status, { timeout: 15_000 }).toBe('completed');
    const job = await getJob(api, id);
    expect(job.counts.enriched + job.counts.not_found).toBe(2);
    await expectJobInvariants(db);
  });
});
