/**
 * Traces reach an OTLP/HTTP receiver, and one trace runs from the upload request in the API
 * through the queue into the worker and its provider and database calls. With BullMQ (REDIS_URL)
 * the API and the worker are separate systems, as in production; without it, one system.
 */
import { Writable } from 'node:stream';
import type { Job } from '@gtm-enrich/contracts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { runWithLogContext } from '../../src/observability/log-context';
import { createTracing, inSpan, NOOP_TRACING } from '../../src/observability/tracing';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from '../test-system';
import { type ReceivedSpan, startOtlpReceiver } from './otlp-receiver';

const distributed = inject('redisUrl') !== null;

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
    // A one-row file is checked and read within its request.
    for (const name of ['upload check', 'upload read']) {
      expect(one(name)).toMatchObject({ service: request!.service, parentSpanId: request!.spanId });
    }
    const dispatch = one('dispatch enrich-company');
    const task = one('task enrich-company');
    const match = one('provider match');
    const enrich = one('provider bulk_enrich');

    const workerService = distributed ? 'gtm-enrich-worker' : 'gtm-enrich';
    expect(dispatch.service).toBe(request!.service);
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

    // Database calls on both sides, with statements but never the values they carry.
    const pg = trace.filter((s) => s.name.startsWith('pg '));
    expect(pg.some((s) => s.service === request!.service && s.name === 'pg insert')).toBe(true);
    expect(pg.some((s) => s.service === workerService && ancestors(s).includes(task.spanId))).toBe(true);
    expect(pg.every((s) => typeof s.attributes['db.query.text'] === 'string')).toBe(true);
    expect(JSON.stringify(trace)).not.toContain('stripe.com');

    // Scrapes and health checks make no traces.
    await fetch(`${api.baseUrl}/healthz`);
    await api.system.observability.tracing.forceFlush();
    expect(receiver.spans.some((s) => s.name.includes('/healthz'))).toBe(false);
  });
});

describe('tracing switched off', () => {
  it('loads nothing and carries no trace context without OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const tracing = await createTracing({ endpoint: undefined, serviceName: 'x' });
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
    const tracing = await createTracing({ endpoint: receiver.url, serviceName: 'log-test' });
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
