/**
 * /readyz answers within its deadline whatever the services do: PostgreSQL down or frozen (a
 * server that accepts connections and never answers), Redis down. Workers answer /readyz on their
 * operations listener. Probes log at debug; request lines carry their trace_id.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectDatabase } from '../../src/db/database';
import { createReadiness } from '../../src/observability/readiness';
import { createBullmqTaskQueue } from '../../src/queue/bullmq-task-queue';
import { apiFetch, startTestSystem, type TestSystem } from '../test-system';
import { startOtlpReceiver } from './otlp-receiver';

const DEADLINE_MS = 300;

/** A "frozen" server: it accepts connections and never says a word (a stopped PostgreSQL, a black-holed route). */
async function startSilentServer(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => sockets.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = await startSilentServer();
  await server.close();
  return server.port;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('readiness checks with a deadline', () => {
  it('fails a frozen PostgreSQL within the deadline, and a second probe does not open another connection', async () => {
    const frozen = await startSilentServer();
    const database = connectDatabase(`postgres://app@127.0.0.1:${frozen.port}/app`, { poolSize: 5 });
    const failures: string[] = [];
    const readiness = createReadiness(
      { database: () => database.ping() },
      { timeoutMs: DEADLINE_MS, onFailure: (check, err) => failures.push(`${check}: ${String(err)}`) },
    );
    try {
      const first = await timed(readiness);
      expect(first.value).toEqual({
        ready: false,
        checks: { database: { ok: false, error: 'unavailable' } },
      });
      expect(first.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
      expect(first.ms).toBeLessThan(DEADLINE_MS + 700);
      const second = await timed(readiness);
      expect(second.value.ready).toBe(false);
      expect(second.ms).toBeLessThan(DEADLINE_MS + 700);
      expect(frozen.connections()).toBe(1);
      expect(failures).toEqual([
        `database: CheckTimeoutError: no answer within ${DEADLINE_MS} ms`,
        `database: CheckTimeoutError: no answer within ${DEADLINE_MS} ms`,
      ]);
    } finally {
      await frozen.close();
      await database.close().catch(() => undefined);
    }
  });

  it('fails a PostgreSQL that is down', async () => {
    const database = connectDatabase(`postgres://app@127.0.0.1:${await closedPort()}/app`, { poolSize: 1 });
    const readiness = createReadiness(
      { database: () => database.ping(), other: async () => {} },
      { timeoutMs: 2_000, onFailure: () => {} },
    );
    const { value, ms } = await timed(readiness);
    expect(value).toEqual({
      ready: false,
      checks: { database: { ok: false, error: 'unavailable' }, other: { ok: true } },
    });
    expect(ms).toBeLessThan(2_000);
    await database.close();
  });

  it.skipIf(!inject('redisUrl'))(
    'fails a Redis that is down within the deadline (BullMQ would wait for it)',
    async () => {
      const queue = createBullmqTaskQueue({
        redisUrl: `redis://127.0.0.1:${await closedPort()}`,
        prefix: 'readiness-test',
        logger: pino({ level: 'silent' }),
      });
      const readiness = createReadiness(
        { queue: () => queue.ping() },
        { timeoutMs: DEADLINE_MS, onFailure: () => {} },
      );
      const { value, ms } = await timed(readiness);
      expect(value).toEqual({ ready: false, checks: { queue: { ok: false, error: 'unavailable' } } });
      expect(ms).toBeLessThan(DEADLINE_MS + 700);
      void queue.close();
    },
  );
});

describe('/readyz of the API and of a worker, and what probes log', () => {
  const lines: Array<Record<string, unknown>> = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: TestSystem;
  let worker: TestSystem;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
    api = await startTestSystem({ roles: { api: true, worker: false }, env, logDestination });
    worker = await startTestSystem({ roles: { api: false, worker: true }, shareWith: api, env });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await receiver?.close();
  });

  it('a worker answers /readyz on its operations listener: database, queue and the provider circuit', async () => {
    const metricsUrl = worker.system.observability.metricsUrl;
    expect(metricsUrl).not.toBeNull();
    const res = await fetch(`${metricsUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { database: { ok: true }, queue: { ok: true }, provider: { ok: true } },
    });
  });

  it('the API answers /readyz on its port and its operations listener', async () => {
    const res = await fetch(`${api.baseUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { database: { ok: true }, queue: { ok: true } },
    });
    expect((await fetch(`${api.system.observability.metricsUrl}/readyz`)).status).toBe(200);
  });

  it('logs probes and successful reads at debug, writes and refusals at info, with their trace_id', async () => {
    lines.length = 0;
    await fetch(`${api.baseUrl}/readyz`);
    await fetch(`${api.baseUrl}/healthz`);
    const res = await apiFetch(`${api.baseUrl}/api/v1/jobs?org_id=acme`);
    expect(res.status).toBe(200);
    const missing = `${api.baseUrl}/api/v1/jobs/00000000-0000-4000-8000-000000000000`;
    expect((await apiFetch(`${missing}?org_id=acme`)).status).toBe(404);
    expect((await apiFetch(`${missing}/cancel?org_id=acme`, { method: 'POST' })).status).toBe(404);
    const requestLines = () =>
      lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
    await expect.poll(() => requestLines().length).toBe(10);
    const url = (l: Record<string, unknown>) => (l.req as { url?: string } | undefined)?.url ?? '';
    const incoming = (method: string, prefix: string) =>
      requestLines().find(
        (l) =>
          l.msg === 'incoming request' &&
          (l.req as { method?: string }).method === method &&
          url(l).startsWith(prefix),
      );
    const completedOf = (line: Record<string, unknown> | undefined) =>
      requestLines().filter((l) => l.msg === 'request completed' && l.reqId === line?.reqId);
    for (const probe of ['/readyz', '/healthz']) {
      const line = incoming('GET', probe);
      expect(line).toMatchObject({ level: 'debug' });
      expect(completedOf(line)).toEqual([expect.objectContaining({ level: 'debug' })]);
    }
    // A poll: counted in the metrics, not worth two info lines.
    const read = incoming('GET', '/api/v1/jobs?');
    expect(read).toMatchObject({ level: 'debug', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(completedOf(read)).toEqual([
      expect.objectContaining({ level: 'debug', trace_id: read?.trace_id, res: { statusCode: 200 } }),
    ]);
    // A read refused is told at info when it ends; a write is told at info from its start.
    expect(completedOf(incoming('GET', '/api/v1/jobs/0000'))).toEqual([
      expect.objectContaining({ level: 'info', res: { statusCode: 404 } }),
    ]);
    const write = incoming('POST', '/api/v1/jobs/0000');
    expect(write).toMatchObject({ level: 'info', trace_id: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(completedOf(write)).toEqual([
      expect.objectContaining({ level: 'info', trace_id: write?.trace_id, res: { statusCode: 404 } }),
    ]);
  });
});
