/**
 * createSystem: the one place that wires the database, the queue, the provider and the
 * services. Entry points decide which roles a process plays (api, worker or both) and where the
 * database and provider are; everything else is decided here, once.
 */
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config';
import { connectDatabase, type DatabaseHandle } from './db/database';
import { migrateDatabase } from './db/migrate';
import { createEnrichCompany } from './enrichment/enrich-company';
import { createProviderBatcher } from './enrichment/provider-batcher';
import { createRetryPolicy, type RetryPolicy } from './enrichment/retry-policy';
import { buildApp } from './http/app';
import { personalEmailDomainSet } from './ingest/normalize-domain';
import { createDispatcher, type Dispatcher } from './jobs/dispatcher';
import { createJobsService, type JobsService } from './jobs/jobs.service';
import { createUploadReader } from './jobs/read-upload';
import { createExploriumClient } from './providers/explorium/explorium-client';
import type { EnrichmentProvider } from './providers/provider';
import { startSandboxServer } from './providers/sandbox/sandbox-server';
import { createBullmqTaskQueue } from './queue/bullmq-task-queue';
import { createInProcessTaskQueue } from './queue/in-process-task-queue';
import type { TaskQueue } from './queue/task-queue';

export type Roles = { api: boolean; worker: boolean };

export type ProviderEndpoint = {
  name: 'explorium' | 'sandbox';
  baseUrl: string;
  apiKey: string;
  stop(): Promise<void>;
};

export type System = {
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  queue: TaskQueue;
  provider: EnrichmentProvider;
  providerEndpoint: ProviderEndpoint;
  jobs: JobsService;
  dispatcher: Dispatcher;
  retryPolicy: RetryPolicy;
  app: FastifyInstance | null;
  /** Listens (api role) and starts consuming (worker role). Returns the API's address, if any. */
  start(): Promise<string | null>;
  /** Stops taking requests and tasks, waits for what is running, closes connections. */
  stop(): Promise<void>;
};

const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/out', import.meta.url));
const SANDBOX_API_KEY_DEFAULT = 'sandbox';

/**
 * With EXPLORIUM_API_KEY: Explorium. Without: the sandbox, at SANDBOX_URL or started here on
 * loopback, so that the real client code path always runs.
 */
export async function resolveProvider(config: Config, logger: Logger): Promise<ProviderEndpoint> {
  if (config.EXPLORIUM_API_KEY) {
    return {
      name: 'explorium',
      baseUrl: config.EXPLORIUM_BASE_URL,
      apiKey: config.EXPLORIUM_API_KEY,
      stop: async () => {},
    };
  }
  const apiKey = config.SANDBOX_API_KEY ?? SANDBOX_API_KEY_DEFAULT;
  logger.warn(
    'EXPLORIUM_API_KEY is not set: companies are enriched by the built-in SANDBOX with SYNTHETIC data. ' +
      'Set EXPLORIUM_API_KEY for real firmographics.',
  );
  if (config.SANDBOX_URL)
    return { name: 'sandbox', baseUrl: config.SANDBOX_URL, apiKey, stop: async () => {} };
  const sandbox = await startSandboxServer({
    latencyMs: config.SANDBOX_LATENCY_MS,
    errorRate: config.SANDBOX_ERROR_RATE,
    rateLimitPerMin: config.SANDBOX_RATE_LIMIT_PER_MIN,
    apiKey: config.SANDBOX_API_KEY,
  });
  return { name: 'sandbox', baseUrl: sandbox.url, apiKey, stop: () => sandbox.close() };
}

export async function createSystem(opts: {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  roles: Roles;
  provider: ProviderEndpoint;
  /** Override the queue (tests run one system on each adapter). */
  queue?: TaskQueue;
}): Promise<System> {
  const { config, logger, roles } = opts;
  const database = connectDatabase(opts.databaseUrl, {
    poolSize: config.DATABASE_POOL_SIZE,
    onError: (err) => logger.warn({ err: err.message }, 'database connection lost; the pool reconnects'),
  });
  await migrateDatabase(database);

  const queue =
    opts.queue ??
    (config.REDIS_URL
      ? createBullmqTaskQueue({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, logger })
      : createInProcessTaskQueue({ logger }));

  const provider = createExploriumClient({
    baseUrl: opts.provider.baseUrl,
    apiKey: opts.provider.apiKey,
    name: opts.provider.name,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    logger,
  });
  const retryPolicy = createRetryPolicy({
    maxAttempts: config.TASK_MAX_ATTEMPTS,
    baseDelayMs: config.TASK_BACKOFF_BASE_MS,
    maxDelayMs: config.TASK_BACKOFF_MAX_MS,
  });
  const dispatcher = createDispatcher({ db: database.db, queue, logger });
  const jobs = createJobsService({ db: database.db, dispatcher, provider: opts.provider.name });

  const app = roles.api
    ? await buildApp({
        logger,
        jobs,
        uploads: createUploadReader({
          maxRows: config.MAX_ROWS,
          blockedEmailDomains: personalEmailDomainSet(config.BLOCKED_EMAIL_DOMAINS),
        }),
        readiness: { database: () => database.ping(), queue: () => queue.ping() },
        maxUploadBytes: config.MAX_UPLOAD_BYTES,
        webDir: config.WEB_DIR ?? DEFAULT_WEB_DIR,
      })
    : null;

  return {
    config,
    logger,
    database,
    queue,
    provider,
    providerEndpoint: opts.provider,
    jobs,
    dispatcher,
    retryPolicy,
    app,
    async start() {
      if (roles.worker) {
        const batcher = createProviderBatcher(provider, { windowMs: config.PROVIDER_BATCH_WINDOW_MS });
        const enrichCompany = createEnrichCompany({
          db: database.db,
          batcher,
          retryPolicy,
          logger,
          // Longer than the slowest honest attempt: a batch window plus a match and an enrich call.
          leaseMs: config.PROVIDER_BATCH_WINDOW_MS * 2 + config.PROVIDER_TIMEOUT_MS * 2 + 60_000,
        });
        queue.startWorker(
          { 'enrich-company': enrichCompany },
          { concurrency: config.WORKER_CONCURRENCY, fallbackRetryDelayMs: (n) => retryPolicy.delayMs(n) },
        );
        const sent = await dispatcher.dispatchAllActive();
        if (sent > 0) logger.info({ tasks: sent }, 'dispatched unfinished companies found in the database');
      }
      if (app) return app.listen({ host: config.HOST, port: config.PORT });
      return null;
    },
    async stop() {
      await app?.close();
      await queue.close();
      await database.close();
    },
  };
}
