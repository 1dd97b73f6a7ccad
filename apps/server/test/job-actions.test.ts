/**
 * Dead letters and stopping: a provider outage fails companies after their last attempt; once it
 * is over, retry re-drives them to success. Cancel stops the queued rest of a job.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxServer } from '../src/providers/sandbox/sandbox-server';
import { expectJobInvariants } from './invariants';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

/** A switch in front of the sandbox: while `down`, every call gets Explorium's 503 body. */
async function startOutageProxy(targetUrl: string) {
  const state = { down: true };
  const server = http.createServer((req, res) => {
    if (state.down) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ details: 'Service unavailable', correlation_id: 'outage' }));
      return;
    }
    const target = new URL(req.url ?? '/', targetUrl);
    const upstream = http.request(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function getJob(t: TestSystem, id: string): Promise<Job> {
  return (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job;
}

const post = (t: TestSystem, path: string, body?: unknown) =>
  apiFetch(`${t.baseUrl}${path}`, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

describe('retry after a provider outage', () => {
  let t: TestSystem;
  let sandbox: Awaited<ReturnType<typeof startSandboxServer>>;
  let proxy: Awaited<ReturnType<typeof startOutageProxy>>;
  beforeAll(async () => {
    sandbox = await startSandboxServer({ apiKey: 'test-key' });
    proxy = await startOutageProxy(sandbox.url);
    t = await startTestSystem({ env: { TASK_MAX_ATTEMPTS: '2' }, providerUrl: proxy.url });
  });
  afterAll(async () => {
    await t?.stop();
    await proxy?.close();
    await sandbox?.close();
  });

  it('fails companies after their last attempt, then re-drives them once the provider is back', async () => {
    const res = await upload(
      t.baseUrl,
      csvFile(['domain', 'stripe.com', 'shopify.com', 'nomatch-retry.com']),
    );
    const { id } = (await res.json()) as Job;
    await expect.poll(async () => (await getJob(t, id)).status, { timeout: 15_000 }).toBe('completed');
    const failed = await getJob(t, id);
    expect(failed.counts).toMatchObject({ failed: 3, enriched: 0 });
    const companies = (await (
      await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}/companies?org_id=acme`)
    ).json()) as {
      data: { attempts: number; error: { code: string } | null }[];
    };
    expect(companies.data.every((c) => c.attempts === 2 && c.error?.code === 'PROVIDER_TRANSIENT')).toBe(
      true,
    );

    proxy.state.down = false;
    const retried = await post(t, `/api/v1/jobs/${id}/retry?org_id=acme`);
    expect(retried.status).toBe(200);
    await expect.poll(async () => (await getJob(t, id)).status, { timeout: 15_000 }).toBe('completed');
    const done = await getJob(t, id);
    expect(done.counts).toMatchObject({ enriched: 2, not_found: 1, failed: 0 });

    // Not-found companies are re-driven only when asked, and then skip the cached no-match.
    const before = sandbox.stats().items.match;
    expect((await post(t, `/api/v1/jobs/${id}/retry?org_id=acme`, { include_not_found: true })).status).toBe(
      200,
    );
    await expect.poll(async () => (await getJob(t, id)).status, { timeout: 15_000 }).toBe('completed');
    expect(sandbox.stats().items.match).toBe(before + 1);
    await expectJobInvariants(t.system.database.db);
  });

  it('answers 400 for a malformed retry body and 404 for another organization', async () => {
    const res = await upload(t.baseUrl, csvFile(['domain', 'retry-other.com']));
    const { id } = (await res.json()) as Job;
    expect((await post(t, `/api/v1/jobs/${id}/retry?org_id=acme`, { include_not_found: 'yes' })).status).toBe(
      400,
    );
    expect((await post(t, `/api/v1/jobs/${id}/retry?org_id=someone-else`)).status).toBe(404);
  });
});

describe('cancel', () => {
  let t: TestSystem;
  beforeAll(async () => {
    t = await startTestSystem({ sandbox: { latencyMs: 200 }, env: { WORKER_CONCURRENCY: '5' } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('cancels the queued companies and lets the ones in flight finish', async () => {
    const domains = Array.from({ length: 300 }, (_, i) => `cancel-me-${i}.com`);
    const res = await upload(t.baseUrl, csvFile(['domain', ...domains]));
    const { id } = (await res.json()) as Job;
    await expect
      .poll(async () => (await getJob(t, id)).counts.processing, { timeout: 10_000 })
      .toBeGreaterThan(0);

    const cancelled = await post(t, `/api/v1/jobs/${id}/cancel?org_id=acme`);
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as Job).status).toBe('cancelled');
    await expect.poll(async () => (await getJob(t, id)).counts.processing, { timeout: 10_000 }).toBe(0);
    const job = await getJob(t, id);
    expect(job.status).toBe('cancelled');
    expect(job.counts.queued).toBe(0);
    expect(job.counts.cancelled).toBeGreaterThan(200);
    expect(job.counts.enriched + job.counts.not_found + job.counts.cancelled).toBe(300);
    expect((await post(t, `/api/v1/jobs/${id}/cancel?org_id=acme`)).status).toBe(409);
    await expectJobInvariants(t.system.database.db);
  });
});
