/**
 * Traces reach an OTLP/HTTP receiver, and one trace runs from the upload request in the API
 * through the queue into the worker and its provider and database calls. With BullMQ (REDIS_URL)
 * the API and the worker are separate systems, as in production; without it, one system.
 */
import { Writable } from 'node:stream';
import type { Job } from '@gtm-enrich/contracts';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { dispatchInJobTrace } from '../../src/observability/dispatch-trace';
import { runWithLogContext } from '../../src/observability/log-context';
import { createTracing, inSpan, NOOP_TRACING, type TracingSettings } from '../../src/observability/tracing';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from '../test-system';
import { type ReceivedSpan, startOtlpReceiver } from './otlp-receiver';

const distributed = inject('redisUrl') !== null;

/** Tracing settings as config.ts gives them by default. */
function settings(endpoint: string | undefined, serviceName: string): TracingSettings {
  return {
    endpoint,
    serviceName,
    serviceVersion: '0.0.0-test',
    instanceId: 'test-instance',
    sampler: 'parentbased_always_on',
    samplerArg: 1,
    batch: { scheduleDelayMs: 2_000, maxQueueSize: 2_048, maxExportBatchSize: 512, exportTimeoutMs: 30_000 },
  };
}

describe(`one trace from upload to provider (${distributed ? 'api and worker apart, BullMQ' : 'one process'})`, () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: TestSystem;
  let worker: TestSystem | null = null;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    if (distributed) {
      api = await startTestSystem({ queue: 'bullmq', roles: { api: true, worker: false }, env });
      worker = await startTestSystem({
        queue: 'bullmq',
        roles: { api: false, worker: true },
        shareWith: api,
        env,
      });
    } else {
      api = await startTestSystem({ env });
    }
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await receiver?.close();
  });

  it('links the upload request, the dispatch, the task, the provider calls and the database calls', async () => {
    const res = await upload(api.baseUrl, csvFile(['domain', 'stripe.com']));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as Job;
    await expect
      .poll(
        async () =>
          ((await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job).status,
        { timeout: 20_000 },
      )
      .toBe('completed');

    const byName = (name: string) => receiver.spans.filter((s) => s.name === name);
    await expect
      .poll(
        async () => {
          await api.system.observability.tracing.forceFlush();
          await worker?.system.observability.tracing.forceFlush();
          return byName('provider bulk_enrich').length;
        },
        { timeout: 10_000 },
      )
      .toBe(1);
    expect(receiver.rejected).toEqual([]);

    const [request] = byName('POST /api/v1/uploads');
    expect(request).toMatchObject({
      service: distributed ? 'gtm-enrich-api' : 'gtm-enrich',
      parentSpanId: '',
      kind: 2, // server
      attributes: { 'http.route': '/api/v1/uploads', 'http.response.status_code': 202 },
    });
    const trace = receiver.spans.filter((s) => s.traceId === request!.traceId);
    const one = (name: string): ReceivedSpan => {
      const found = trace.filter((s) => s.name === name);
      expect(found, `${name} in the upload's trace`).toHaveLength(1);
      return found[0]!;
    };
    // A one-row file is checked and read within its request, in the span @fastify/otel makes for
    // the route's handler.
    const handler = trace.filter(
      (s) => s.parentSpanId === request!.spanId && s.name.startsWith('handler - '),
    );
    expect(handler).toHaveLength(1);
    for (const name of ['upload check', 'upload read']) {
      expect(one(name)).toMatchObject({ service: request!.service, parentSpanId: handler[0]!.spanId });
    }
    const task = one('task enrich-company');
    // The API right after the upload and the feeding worker both dispatch the job's companies, in
    // the upload's trace; the queue keeps the first task, whose dispatch is the task's parent.
    const dispatch = trace.find((s) => s.spanId === task.parentSpanId)!;
    expect(dispatch.name).toBe('dispatch enrich-company');
    const match = one('provider match');
    const enrich = one('provider bulk_enrich');

    const workerService = distributed ? 'gtm-enrich-worker' : 'gtm-enrich';
    expect(dispatch.attributes).toMatchObject({ 'messaging.batch.message_count': 1 });
    expect(task).toMatchObject({ service: workerService, parentSpanId: dispatch.spanId, kind: 5 });
    expect(task.attributes).toMatchObject({
      'gtm.org_id': 'acme',
      'gtm.job_id': id,
      'messaging.message.delivery': 1,
    });
    expect(match).toMatchObject({ service: workerService, parentSpanId: task.spanId, kind: 3 });
    expect(match.attributes).toMatchObject({ 'gtm.provider': 'sandbox', 'http.response.status_code': 200 });
    expect(enrich.parentSpanId).toBe(task.spanId);

    // Descends from the request: the dispatch runs after the response, in the request's context.
    const ancestors = (span: ReceivedSpan): string[] => {
      const parent = trace.find((s) => s.spanId === span.parentSpanId);
      return parent ? [parent.spanId, ...ancestors(parent)] : [];
    };
    expect(ancestors(dispatch)).toContain(request!.spanId);

    // Database calls on both sides (instrumentation-pg), each in the process that made it, with
    // statements but never the values they carry.
    const pg = trace.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(
      pg.some(
        (s) =>
          s.service === request!.service &&
          s.name.startsWith('pg.query:INSERT') &&
          ancestors(s).includes(request!.spanId),
      ),
    ).toBe(true);
    expect(pg.some((s) => s.service === workerService && ancestors(s).includes(task.spanId))).toBe(true);
    for (const s of pg) {
      expect(s.kind).toBe(3); // client
      expect(typeof s.attributes['db.query.text']).toBe('string');
      expect(s.attributes).not.toHaveProperty('db.postgresql.values');
    }
    expect(JSON.stringify(trace)).not.toContain('stripe.com');

    // Scrapes and health checks make no traces.
    await fetch(`${api.baseUrl}/healthz`);
    await api.system.observability.tracing.forceFlush();
    expect(receiver.spans.some((s) => s.name.includes('/healthz'))).toBe(false);
  });
});

describe('tracing switched off', () => {
  it('loads nothing and carries no trace context without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const tracing = await createTracing(settings(undefined, 'x'));
    expect(tracing).toBe(NOOP_TRACING);
    expect(tracing.enabled).toBe(false);
    await inSpan(tracing.tracer, 'nothing', {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(tracing.inject()).toBeUndefined();
    });
  });
});

describe('log lines', () => {
  it('carry the ids of the task and the trace, and never a key', async () => {
    const receiver = await startOtlpReceiver();
    const tracing = await createTracing(settings(receiver.url, 'log-test'));
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger(
      { LOG_LEVEL: 'info', LOG_FORMAT: 'json', NODE_ENV: 'production' },
      destination,
    );
    let traceId = '';
    await runWithLogContext({ org_id: 'acme', job_id: 'job-1', company_id: 'company-1' }, () =>
      inSpan(tracing.tracer, 'work', {}, async (span) => {
        traceId = span.spanContext().traceId;
        logger.warn(
          { apiKey: 'k-1', config: { EXPLORIUM_API_KEY: 'k-2', DATABASE_URL: 'postgres://u:pw@db/x' } },
          'provider call failed',
        );
      }),
    );
    logger.info('outside any task');
    await tracing.shutdown();
    await receiver.close();

    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      msg: 'provider call failed',
      org_id: 'acme',
      job_id: 'job-1',
      company_id: 'company-1',
      trace_id: traceId,
      apiKey: '[redacted]',
      config: { EXPLORIUM_API_KEY: '[redacted]', DATABASE_URL: '[redacted]' },
    });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(lines)).not.toMatch(/k-1|k-2|pw@/);
    expect(lines[1]).not.toHaveProperty('job_id');
    expect(lines[1]).not.toHaveProperty('trace_id');
  });
});

describe.skipIf(!distributed)(
  'one trace per upload, every time (BullMQ, a queue shallower than the jobs)',
  () => {
    let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
    let api: TestSystem;
    let worker: TestSystem;
    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      // The worker feeds the queue every 250 ms and the API enqueues right after each upload: the
      // first to enqueue a company's task wins, and both must carry the upload's trace.
      const env = {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        DISPATCH_QUEUE_DEPTH: '3',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,team=growth%20ops',
      };
      api = await startTestSystem({ queue: 'bullmq', roles: { api: true, worker: false }, env });
      worker = await startTestSystem({
        queue: 'bullmq',
        roles: { api: false, worker: true },
        shareWith: api,
        env,
      });
    });
    afterAll(async () => {
      await worker?.stop();
      await api?.stop();
      await receiver?.close();
    });

    it("puts every company of every upload, above and below DISPATCH_QUEUE_DEPTH, in its upload's trace", async () => {
      const sizes = [2, 1, 2, 3, 12, 2];
      const files = sizes.map((n, f) =>
        csvFile(['domain', ...Array.from({ length: n }, (_, i) => `trace-${f}-${i}.com`)]),
      );
      const jobs: { id: string }[] = [];
      for (const file of files) {
        const res = await upload(api.baseUrl, file);
        expect(res.status).toBe(202);
        const job = (await res.json()) as Job;
        jobs.push({ id: job.id });
      }
      for (const { id } of jobs) {
        await expect
          .poll(
            async () =>
              ((await (await apiFetch(`${api.baseUrl}/api/v1/jobs/${id}?org_id=acme`)).json()) as Job).status,
            { timeout: 30_000 },
          )
          .toBe('completed');
      }
      const tasks = () => receiver.spans.filter((s) => s.name === 'task enrich-company');
      const expected = sizes.reduce((a, b) => a + b, 0);
      await expect
        .poll(
          async () => {
            await api.system.observability.tracing.forceFlush();
            await worker.system.observability.tracing.forceFlush();
            return tasks().length;
          },
          { timeout: 15_000 },
        )
        .toBeGreaterThanOrEqual(expected);
      const requests = receiver.spans.filter((s) => s.name === 'POST /api/v1/uploads');
      expect(requests).toHaveLength(files.length);
      for (const { id } of jobs) {
        const ofJob = tasks().filter((t) => t.attributes['gtm.job_id'] === id);
        const traces = new Set(ofJob.map((t) => t.traceId));
        expect(traces.size, `job ${id}: ${ofJob.length} task spans`).toBe(1);
        expect(requests.map((r) => r.traceId)).toContain([...traces][0]);
      }
      // Every span says which process and which build sent it, and the operator's attributes.
      for (const span of [...requests, ...tasks()]) {
        expect(span.resource).toMatchObject({
          'service.version': expect.stringMatching(/^\d+\.\d+\.\d+/),
          'service.instance.id': expect.stringMatching(/^[0-9a-f-]{36}$/),
          'deployment.environment.name': 'test',
          team: 'growth ops',
        });
      }
      expect(new Set(tasks().map((t) => t.resource['service.instance.id']))).toEqual(
        new Set([worker.system.processId]),
      );
    });
  },
);

describe('a large job is not one trace', () => {
  it("traces the first rows in the upload's trace, later pages each in a trace of its own linked to it", async () => {
    const receiver = await startOtlpReceiver();
    const tracing = await createTracing(settings(receiver.url, 'page-test'));
    const inJobTrace = dispatchInJobTrace(tracing, 1_000);
    let uploadTraceId = '';
    const traceContext = await inSpan(tracing.tracer, 'POST /api/v1/uploads', {}, async (span) => {
      uploadTraceId = span.spanContext().traceId;
      return tracing.inject()!;
    });
    const job = { id: 'job-1', orgId: 'acme', traceContext };
    const activeTrace = () => trace.getActiveSpan()?.spanContext().traceId;
    const first = await inJobTrace(job, 1, async () => activeTrace());
    const last = await inJobTrace(job, 1_000, async () => activeTrace());
    const later = await inJobTrace(job, 1_001, async () => activeTrace());
    const muchLater = await inJobTrace(job, 250_001, async () => activeTrace());
    expect(first).toBe(uploadTraceId);
    expect(last).toBe(uploadTraceId);
    expect(later).not.toBe(uploadTraceId);
    expect(muchLater).not.toBe(uploadTraceId);
    expect(muchLater).not.toBe(later);
    await tracing.forceFlush();
    const pages = receiver.spans.filter((s) => s.name === 'dispatch job page');
    expect(pages).toHaveLength(2);
    for (const page of pages) {
      expect(page).toMatchObject({ parentSpanId: '', links: [uploadTraceId] });
    }
    await tracing.shutdown();
    await receiver.close();
  });
});
