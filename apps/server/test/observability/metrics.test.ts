/**
 * /metrics after real jobs: the named series exist and count what happened (companies by outcome,
 * HTTP requests, provider calls as the sandbox saw them, job duration, queue depth, process).
 */
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics';
import {
  apiFetch,
  bearer,
  csvFile,
  queueKinds,
  startTestSystem,
  type TestSystem,
  upload,
} from '../test-system';
import { parsePrometheusText, type Sample, scrape, sumOf } from './prometheus-text';

async function waitForJob(baseUrl: string, jobId: string): Promise<Job> {
  let job: Job | undefined;
  await expect
    .poll(
      async () => {
        job = (await (await apiFetch(`${baseUrl}/api/v1/jobs/${jobId}?org_id=acme`)).json()) as Job;
        return job.status;
      },
      { timeout: 20_000, interval: 100 },
    )
    .toBe('completed');
  return job!;
}

const FILE = ['domain', 'stripe.com', 'shopify.com', 'notion.so', 'acme-widgets-42.com', 'nomatch-here.com'];

function expectProviderCallsMatchSandbox(samples: Sample[], t: TestSystem): void {
  const calls = t.sandbox.stats().calls;
  expect(calls.match).toBeGreaterThan(0);
  expect(
    sumOf(samples, 'gtm_provider_call_duration_seconds_count', { endpoint: 'match', status: '200' }),
  ).toBe(calls.match);
  expect(
    sumOf(samples, 'gtm_provider_call_duration_seconds_count', { endpoint: 'bulk_enrich', status: '200' }),
  ).toBe(calls.bulk_enrich);
  expect(sumOf(samples, 'gtm_provider_call_errors_total')).toBeNull();
}

describe.each(queueKinds())('/metrics of one process on the %s queue', (queue) => {
  let t: TestSystem;
  const metricsUrl = () => t.system.observability.metricsUrl;
  beforeAll(async () => {
    t = await startTestSystem({ queue });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('counts a finished job: companies by outcome, requests, provider calls, durations, queue', async () => {
    const res = await upload(t.baseUrl, csvFile(FILE));
    expect(res.status).toBe(202);
    const job = await waitForJob(t.baseUrl, ((await res.json()) as Job).id);
    expect(job.counts).toMatchObject({ enriched: 4, not_found: 1, failed: 0 });

    // The job-duration sample is taken just after the job completes; give it that moment.
    await expect
      .poll(async () => sumOf(await scrape(`${metricsUrl()}/metrics`), 'gtm_job_duration_seconds_count'))
      .toBe(1);
    const samples = await scrape(`${metricsUrl()}/metrics`);

    expect(sumOf(samples, 'gtm_companies_finished_total', { outcome: 'enriched', source: 'provider' })).toBe(
      4,
    );
    expect(sumOf(samples, 'gtm_companies_finished_total', { outcome: 'not_found' })).toBe(1);
    expect(sumOf(samples, 'gtm_companies_finished_total', { outcome: 'failed' })).toBeNull();
    expect(sumOf(samples, 'gtm_task_duration_seconds_count', { task: 'enrich-company', result: 'ok' })).toBe(
      5,
    );

    expect(
      sumOf(samples, 'gtm_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/v1/uploads',
        status_code: '202',
      }),
    ).toBe(1);
    expect(
      sumOf(samples, 'gtm_http_request_duration_seconds_count', {
        route: '/api/v1/jobs/:jobId',
        status_code: '200',
      }),
    ).toBeGreaterThanOrEqual(1);

    expectProviderCallsMatchSandbox(samples, t);
    expect(sumOf(samples, 'gtm_dispatcher_lag_seconds_count')).toBe(1);
    expect(sumOf(samples, 'gtm_queue_tasks', { state: 'waiting' })).toBe(0);
    expect(sumOf(samples, 'gtm_queue_tasks', { state: 'active' })).toBe(0);
    expect(sumOf(samples, 'gtm_queue_tasks', { state: 'delayed' })).toBe(0);
    expect(sumOf(samples, 'process_cpu_user_seconds_total', { role: 'embedded' })).toBeGreaterThan(0);
    expect(sumOf(samples, 'nodejs_eventloop_lag_seconds')).not.toBeNull();
  });

  it('serves /metrics on its METRICS_PORT listener only, never on the API port that faces users', async () => {
    expect(metricsUrl()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metricsUrl()).not.toBe(t.baseUrl);
    expect((await fetch(`${t.baseUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/metrics`, { headers: bearer(t.key) })).status).toBe(404);
  });

  it.runIf(queue === 'in-process')('has no queue dashboard without BullMQ', async () => {
    expect((await fetch(`${t.baseUrl}/admin/queues`)).status).toBe(404);
  });
});

describe.skipIf(!inject('redisUrl'))('/metrics of the api and a worker apart, on BullMQ', () => {
  let api: TestSystem;
  let worker: TestSystem;
  beforeAll(async () => {
    api = await startTestSystem({ queue: 'bullmq', roles: { api: true, worker: false } });
    worker = await startTestSystem({ queue: 'bullmq', roles: { api: false, worker: true }, shareWith: api });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
  });

  it('serves the worker its own /metrics and /healthz, the API operations listener the queue dashboard', async () => {
    const workerUrl = worker.system.observability.metricsUrl;
    expect(workerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${workerUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const apiMetricsUrl = api.system.observability.metricsUrl;
    expect(apiMetricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await upload(api.baseUrl, csvFile(FILE));
    const job = await waitForJob(api.baseUrl, ((await res.json()) as Job).id);
    expect(job.status).toBe('completed');

    await expect
      .poll(async () => sumOf(await scrape(`${workerUrl}/metrics`), 'gtm_job_duration_seconds_count'))
      .toBe(1);
    const fromWorker = await scrape(`${workerUrl}/metrics`);
    expect(sumOf(fromWorker, 'gtm_companies_finished_total', { role: 'worker', outcome: 'enriched' })).toBe(
      4,
    );
    expect(sumOf(fromWorker, 'gtm_companies_finished_total', { outcome: 'not_found' })).toBe(1);
    expectProviderCallsMatchSandbox(fromWorker, api);
    expect(sumOf(fromWorker, 'gtm_http_request_duration_seconds_count')).toBeNull();

    const fromApi = await scrape(`${apiMetricsUrl}/metrics`);
    expect(sumOf(fromApi, 'gtm_companies_finished_total')).toBeNull();
    expect(
      sumOf(fromApi, 'gtm_http_request_duration_seconds_count', { role: 'api', status_code: '202' }),
    ).toBe(1);
    expect(sumOf(fromApi, 'gtm_queue_tasks', { state: 'waiting' })).toBe(0);

    // The queue dashboard is for operators: on the private operations listener, not on the API
    // port (no OPERATOR_API_KEY here), and no organization's key opens it there.
    const basic = (key: string) => ({
      authorization: `Basic ${Buffer.from(`ops:${key}`).toString('base64')}`,
    });
    expect((await fetch(`${api.baseUrl}/admin/queues`)).status).toBe(404);
    expect((await fetch(`${api.baseUrl}/admin/queues`, { headers: basic(api.key) })).status).toBe(404);
    const board = await fetch(`${apiMetricsUrl}/admin/queues`);
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('<div id="root"');
    const queues = await fetch(
      `${apiMetricsUrl}/admin/queues/api/queues?activeQueue=tasks&status=latest&page=1`,
    );
    expect(queues.status).toBe(200);
    expect(JSON.stringify(await queues.json())).toContain('"readOnlyMode":true');
  });
});

describe('provider call metrics', () => {
  it('counts errors by endpoint and status, 429s and the rate-limit headroom', async () => {
    const metrics = createMetrics({
      role: 'worker',
      queueCounts: async () => ({ waiting: 3, active: 1, delayed: 2, waitingLater: 4 }),
    });
    const call = { items: 10, correlationId: null, rateLimit: null, durationMs: 120 };
    metrics.providerCall('explorium', { ...call, endpoint: 'match', status: 200 });
    metrics.providerCall('explorium', { ...call, endpoint: 'match', status: 503 });
    metrics.providerCall('explorium', { ...call, endpoint: 'match', status: 503 });
    metrics.providerCall('explorium', {
      ...call,
      endpoint: 'bulk_enrich',
      status: 429,
      rateLimit: { limit: 200, remaining: 0, resetAtMs: Date.now() + 1000 },
    });
    metrics.providerCall('explorium', { ...call, endpoint: 'bulk_enrich', status: null });
    const samples = parsePrometheusText(await metrics.registry.metrics());
    expect(sumOf(samples, 'gtm_provider_call_errors_total', { endpoint: 'match', status: '503' })).toBe(2);
    expect(sumOf(samples, 'gtm_provider_call_errors_total', { endpoint: 'match', status: '200' })).toBeNull();
    expect(sumOf(samples, 'gtm_provider_call_errors_total', { endpoint: 'bulk_enrich', status: '429' })).toBe(
      1,
    );
    expect(
      sumOf(samples, 'gtm_provider_call_errors_total', { endpoint: 'bulk_enrich', status: 'none' }),
    ).toBe(1);
    expect(sumOf(samples, 'gtm_provider_rate_limited_total', { endpoint: 'bulk_enrich' })).toBe(1);
    expect(sumOf(samples, 'gtm_provider_rate_limit_remaining', { provider: 'explorium' })).toBe(0);
    expect(sumOf(samples, 'gtm_provider_call_duration_seconds_sum', { endpoint: 'match' })).toBeCloseTo(0.36);
    expect(sumOf(samples, 'gtm_queue_tasks', { state: 'delayed' })).toBe(2);
  });

  it('still answers a scrape when the queue cannot be read', async () => {
    const metrics = createMetrics({
      role: 'api',
      queueCounts: async () => {
        throw new Error('redis is down');
      },
    });
    const samples = parsePrometheusText(await metrics.registry.metrics());
    expect(sumOf(samples, 'gtm_queue_tasks')).toBeNull();
    expect(sumOf(samples, 'process_cpu_user_seconds_total')).not.toBeNull();
  });
});
