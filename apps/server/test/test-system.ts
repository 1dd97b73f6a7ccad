/**
 * A whole system for a test: a fresh database, the sandbox as a real HTTP server on loopback,
 * the API listening on a random port, and a worker on the chosen queue adapter.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../src/config';
import { startSandboxServer } from '../src/providers/sandbox/sandbox-server';
import { createSystem, type System } from '../src/system';
import { createTestDatabase } from './test-database';

export type QueueKind = 'in-process' | 'bullmq';

/** The queue adapters available in this run: BullMQ only when REDIS_URL is set. */
export function queueKinds(): QueueKind[] {
  return inject('redisUrl') ? ['in-process', 'bullmq'] : ['in-process'];
}

export type TestSystem = {
  system: System;
  baseUrl: string;
  sandbox: Awaited<ReturnType<typeof startSandboxServer>>;
  databaseUrl: string;
  stop(): Promise<void>;
};

export async function startTestSystem(
  opts: {
    queue?: QueueKind;
    sandbox?: Parameters<typeof startSandboxServer>[0];
    env?: Record<string, string>;
    roles?: { api: boolean; worker: boolean };
    /** Join another test system's database and sandbox instead of making new ones (they stay its to stop). */
    shareWith?: TestSystem;
  } = {},
): Promise<TestSystem> {
  const shared = opts.shareWith;
  const database = shared ? { url: shared.databaseUrl, drop: async () => {} } : await createTestDatabase();
  const sandbox = shared?.sandbox ?? (await startSandboxServer({ apiKey: 'test-key', ...opts.sandbox }));
  const redisUrl = inject('redisUrl');
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    METRICS_PORT: '0',
    TASK_BACKOFF_BASE_MS: '20',
    TASK_BACKOFF_MAX_MS: '200',
    PROVIDER_BATCH_WINDOW_MS: '20',
    PROVIDER_TIMEOUT_MS: '5000',
    QUEUE_PREFIX: shared?.system.config.QUEUE_PREFIX ?? `test-${randomBytes(4).toString('hex')}`,
    ...(opts.queue === 'bullmq' && redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...opts.env,
  });
  const system = await createSystem({
    config,
    logger: pino({ level: 'silent' }),
    databaseUrl: database.url,
    roles: opts.roles ?? { api: true, worker: true },
    provider: { name: 'sandbox', baseUrl: sandbox.url, apiKey: 'test-key', stop: async () => {} },
  });
  const address = await system.start();
  return {
    system,
    baseUrl: address ?? '',
    sandbox,
    databaseUrl: database.url,
    async stop() {
      await system.stop();
      if (shared) return;
      await sandbox.close();
      await database.drop();
    },
  };
}

export function csvFile(lines: string[], name = 'companies.csv'): File {
  return new File([lines.join('\n')], name, { type: 'text/csv' });
}

export async function upload(
  baseUrl: string,
  file: Blob | File,
  fields: Record<string, string> = { org_id: 'acme' },
): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', file);
  return fetch(`${baseUrl}/api/v1/uploads`, { method: 'POST', body: form });
}
