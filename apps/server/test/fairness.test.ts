/**
 * Fair, bounded dispatch: the queue never holds more than DISPATCH_QUEUE_DEPTH waiting tasks, and a
 * small job uploaded while a large one runs finishes long before it.
 */
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, queueKinds, startTestSystem, type TestSystem, upload } from './test-system';

describe.each(queueKinds())('fair dispatch on the %s queue', (queue) => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({
      queue,
      sandbox: { latencyMs: 50 },
      env: { WORKER_CONCURRENCY: '20', DISPATCH_QUEUE_DEPTH: '40' },
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const getJob = async (id: string) =>
    (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;

  it('lets a small job through while a large one runs, with a bounded queue', async () => {
    const big = Array.from({ length: 1500 }, (_, i) => `fair-big-${i}.com`);
    const bigRes = await upload(t.baseUrl, csvFile(['domain', ...big]));
    const bigJob = (await bigRes.json()) as Job;
    expect(bigRes.status, JSON.stringify(bigJob)).toBe(202);
    await expect
      .poll(async () => (await getJob(bigJob.id)).counts.enriched, { timeout: 10_000 })
      .toBeGreaterThan(0);

    const depths: number[] = [];
    const small = Array.from({ length: 10 }, (_, i) => `fair-small-${i}.com`);
    const smallJob = (await (
      await upload(t.baseUrl, csvFile(['domain', ...small]), { org_id: 'other-org' })
    ).json()) as Job;
    await expect
      .poll(
        async () => {
          depths.push((await t.system.queue.counts()).waiting);
          return (
            (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${smallJob.id}?org_id=other-org`)).json()) as Job
          ).status;
        },
        { timeout: 15_000, interval: 50 },
      )
      .toBe('completed');

    const bigNow = await getJob(bigJob.id);
    expect(bigNow.status).toBe('running');
    expect(bigNow.counts.queued).toBeGreaterThan(500);
    expect(Math.max(...depths)).toBeLessThanOrEqual(40);
    await expectJobInvariants(t.system.database.db);
  });
});
