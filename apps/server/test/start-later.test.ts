/**
 * Cost before spending: an upload with start=false makes the job, its companies and its estimate,
 * and spends nothing until it is resumed.
 */
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

describe('an upload that waits to be started', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem();
  });
  afterAll(async () => {
    await t?.stop();
  });

  const job = async (id: string) => (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}`)).json()) as Job;

  it('waits with its estimate, calls no provider, and runs once resumed', async () => {
    const callsBefore = t.sandbox.stats().calls.match;
    const res = await upload(t.baseUrl, csvFile(['domain', 'stripe.com', 'shopify.com', 'wait-1.com']), {
      org_id: 'acme',
      start: 'false',
    });
    expect(res.status).toBe(202);
    const made = (await res.json()) as Job;
    expect(made.status).toBe('paused');
    expect(made.error?.code).toBe('AWAITING_START');
    expect(made.estimate).toMatchObject({ credits: expect.any(Number), provider_calls: expect.any(Number) });
    expect(made.counts.queued).toBe(3);
    // Nothing runs meanwhile: no call, no company claimed.
    await new Promise((r) => setTimeout(r, 500));
    expect(t.sandbox.stats().calls.match).toBe(callsBefore);
    expect((await job(made.id)).counts.queued).toBe(3);

    const started = await apiFetch(`${t.baseUrl}/api/v1/jobs/${made.id}/resume`, { method: 'POST' });
    expect(started.status).toBe(200);
    expect(((await started.json()) as Job).error).toBeNull();
    await expect.poll(async () => (await job(made.id)).status, { timeout: 15_000 }).toBe('completed');
    expect(t.sandbox.stats().calls.match).toBeGreaterThan(callsBefore);
  });

  it('starts at once by default, and refuses a start that is not true or false', async () => {
    const res = await upload(t.baseUrl, csvFile(['domain', 'notion.so']), { org_id: 'acme' });
    expect(((await res.json()) as Job).error).toBeNull();
    const bad = await upload(t.baseUrl, csvFile(['domain', 'notion.so']), { org_id: 'acme', start: 'later' });
    expect(bad.status).toBe(400);
  });
});
