/**
 * Request and database spans from the processes a deployment runs, not only from the systems the
 * other tests start inside vitest: the built JavaScript (`node dist/main-api.js`, which imports its
 * npm dependencies from node_modules) and the TypeScript sources under tsx (`npm start`, `dev`).
 * Each imports pg long before tracing starts, which the instrumentation's require/import hooks
 * would miss; instrument-pg.ts patches the module object instead, and this proves it does in both.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateApiKey } from '../../src/auth/api-keys';
import { connectDatabase } from '../../src/db/database';
import { migrateDatabase } from '../../src/db/migrate';
import { createTestDatabase } from '../test-database';
import { startOtlpReceiver } from './otlp-receiver';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const redisUrl = inject('redisUrl');

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe.skipIf(!redisUrl)('spans from the api process, built and under tsx', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  beforeAll(async () => {
    await promisify(execFile)(process.execPath, ['apps/server/scripts/build.mjs'], { cwd: ROOT });
    database = await createTestDatabase();
    const handle = connectDatabase(database.url, { poolSize: 2 });
    await migrateDatabase(handle);
    await handle.close();
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await database?.drop();
  });

  it.each([
    ['built', ['apps/server/dist/main-api.js']],
    ['tsx', ['--import', 'tsx', 'apps/server/src/main-api.ts']],
  ])(
    "%s: a request span in the caller's trace, and under it the statement that looked its key up",
    async (_mode, args) => {
      receiver.spans.splice(0);
      let output = '';
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          LOG_FORMAT: 'json',
          HOST: '127.0.0.1',
          PORT: '0',
          METRICS_PORT: '0',
          DATABASE_URL: database.url,
          REDIS_URL: redisUrl ?? '',
          QUEUE_PREFIX: `tracing-processes-${process.pid}`,
          MIGRATE_ON_START: 'false',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      try {
        await expect.poll(() => output, { timeout: 45_000 }).toMatch(/api ready at http:\/\/[\d.:]+/);
        const address = /api ready at (http:\/\/[\d.:]+)/.exec(output)?.[1];
        // A well-formed key nobody issued: the API looks it up, then answers 401. The caller's trace
        // (a W3C traceparent header) is continued.
        const callerTrace = randomBytes(16).toString('hex');
        const callerSpan = randomBytes(8).toString('hex');
        const res = await fetch(`${address}/api/v1/jobs?org_id=acme`, {
          headers: {
            authorization: `Bearer ${generateApiKey()}`,
            traceparent: `00-${callerTrace}-${callerSpan}-01`,
          },
        });
        expect(res.status).toBe(401);

        const requestSpan = () => receiver.spans.find((s) => s.name === 'GET /api/v1/jobs');
        await expect.poll(requestSpan, { timeout: 10_000 }).toBeDefined();
        const request = requestSpan()!;
        expect(request).toMatchObject({
          service: 'gtm-enrich-api',
          kind: 2, // server
          traceId: callerTrace,
          parentSpanId: callerSpan,
          attributes: {
            'http.route': '/api/v1/jobs',
            'http.response.status_code': 401,
            'url.path': '/api/v1/jobs',
          },
        });
        await expect
          .poll(() =>
            receiver.spans.filter(
              (s) =>
                s.traceId === request.traceId &&
                s.parentSpanId === request.spanId &&
                s.name.startsWith('pg.query:SELECT') &&
                String(s.attributes['db.query.text']).includes('"api_keys"'),
            ),
          )
          .toHaveLength(1);
      } finally {
        child.kill('SIGTERM');
        expect(await exitOf(child)).toBe(0);
      }
    },
  );
});
