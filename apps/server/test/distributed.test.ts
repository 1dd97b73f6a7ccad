/**
 * The distributed mode's split: an api process that only accepts uploads and a worker process
 * that only enriches, meeting through PostgreSQL and BullMQ on Redis.
 */
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

describe.skipIf(!inject('redisUrl'))('distributed mode: api and worker apart, on BullMQ', () => {
  let api: TestSystem;
  const workers: TestSystem[] = [];
  beforeAll(async () => {
    api = await startTestSystem({ queue: 'bullmq', roles: { api: true, worker: false } });
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
    await api?.stop();
  });

  it('queues work without a worker, and two workers finish it', async () => {
    const domains = Array.from({ length: 120 }, (_, i) => `distributed-${i}.com`);
    const res = await upload(api.baseUrl, csvFile(['domain', ...domains]));
    expect(res.status).toBe(202);
    const job = (await res.json()) as Job;

    const counts = async () => (await api.system.queue.counts()).waiting;
    await expect.poll(counts, { timeout: 10_000 }).toBe(120);
    const queued = (await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${job.id}?org_id=acme`)).json()) as Job;
    expect(queued).toMatchObject({ status: 'queued', counts: { queued: 120 } });

    for (let i = 0; i < 2; i++) {
      workers.push(
        await startTestSystem({
          queue: 'bullmq',
          roles: { api: false, worker: true },
          shareWith: api,
          env: { WORKER_CONCURRENCY: '40' },
        }),
      );
    }
    await expect
      .poll(
        async () =>
          ((await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${job.id}?org_id=acme`)).json()) as Job).status,
        {
          timeout: 20_000,
        },
      )
      .toBe('completed');
    const done = (await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${job.id}?org_id=acme`)).json()) as Job;
    expect(done.counts.enriched + done.counts.not_found).toBe(120);
    expect(done.counts.failed).toBe(0);
    // However the two workers split the companies, each domain went to the provider once.
    const stats = api.sandbox.stats();
    expect(Object.keys(stats.domainsMatched)).toHaveLength(120);
    expect(Object.values(stats.domainsMatched).every((n) => n === 1)).toBe(true);
    await expectJobInvariants(api.system.database.db);
  });

  it('lets one worker at a time feed the queue, and another take over when it stops', async () => {
    const api2 = await startTestSystem({
      queue: 'bullmq',
      roles: { api: true, worker: false },
      sandbox: { latencyMs: 20 },
      env: { DISPATCH_QUEUE_DEPTH: '40' },
    });
    const feeders: TestSystem[] = [];
    try {
      const domains = Array.from({ length: 600 }, (_, i) => `one-feeder-${i}.com`);
      const res = await upload(api2.baseUrl, csvFile(['domain', ...domains]));
      expect(res.status).toBe(202);
      const job = (await res.json()) as Job;
      const jobStatus = async () =>
        ((await (await apiFetch(`${api2.baseUrl}/api/v1/jobs/${job.id}?org_id=acme`)).json()) as Job).status;

      // Companies each worker offers to the queue (watched through its queue, which its dispatcher calls).
      const offered: number[] = [];
      for (let i = 0; i < 2; i++) {
        const worker = await startTestSystem({
          queue: 'bullmq',
          roles: { api: false, worker: true },
          shareWith: api2,
          env: { WORKER_CONCURRENCY: '20', DISPATCH_QUEUE_DEPTH: '40' },
        });
        feeders.push(worker);
        offered.push(0);
        const queue = worker.system.queue;
        const enqueue = queue.enqueue.bind(queue);
        queue.enqueue = async (name, tasks) => {
          if (name === 'enrich-company') offered[i]! += tasks.length;
          return enqueue(name, tasks);
        };
      }
      await expect.poll(() => offered.reduce((a, b) => a + b), { timeout: 10_000 }).toBeGreaterThan(100);
      // The first worker took the lock at start; the second has offered nothing.
      expect(offered[1]).toBe(0);
      expect(await jobStatus()).toBe('running');

      await feeders[0]!.stop();
      await expect.poll(jobStatus, { timeout: 30_000 }).toBe('completed');
      expect(offered[1]).toBeGreaterThan(0);
      // The api's first page and the first worker's tasks it left behind are all that is offered twice.
      expect(offered[0]! + offered[1]!).toBeLessThan(600 + 3 * 40 + 20);
      const done = (await (
        await apiFetch(`${api2.baseUrl}/api/v1/jobs/${job.id}?org_id=acme`)
      ).json()) as Job;
      expect(done.counts.enriched + done.counts.not_found).toBe(600);
      await expectJobInvariants(api2.system.database.db);
    } finally {
      for (const w of feeders.slice(1)) await w.stop();
      await api2.stop();
    }
  });
});
