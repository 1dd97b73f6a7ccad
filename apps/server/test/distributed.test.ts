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
});
