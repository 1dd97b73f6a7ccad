/**
 * createSystem: the one place that wires the database, the queue, the provider and the
 * services. Entry points decide which roles a process plays (api, worker or both) and where the
 * database and provider are; everything else is decided here, once.
 */

import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { suppliedKeyPrefix } from './auth/api-keys';
import { type AuthService, createAuthService } from './auth/auth.service';
import type { Config } from './config';
import { createCopyTransaction } from './db/copy';
import { connectDatabase, type DatabaseHandle } from './db/database';
import { assertSchemaCurrent, migrateDatabase } from './db/migrate';
import { createRoleLease, type RoleLease } from './db/role-lease';
import { createBatchFlow } from './enrichment/batch-flow';
import { createClaimGuardedProvider } from './enrichment/claim-guarded-provider';
import { createCreditBudget } from './enrichment/credit-budget';
import { createDatabaseGate } from './enrichment/database-gate';
import { createEnrichCompany, type EnrichCompanyHandler } from './enrichment/enrich-company';
import { createHeldClaims } from './enrichment/held-claims';
import { createProviderBatcher } from './enrichment/provider-batcher';
import { createRetryPolicy, type RetryPolicy } from './enrichment/retry-policy';
import { personalEmailDomainSet } from './ingest/normalize-domain';
import { createDispatcher, type Dispatcher } from './jobs/dispatcher';
import { createJobsService, type JobsService } from './jobs/jobs.service';
import { forgetProviderCall, openProviderCall, recordProviderCall } from './jobs/ledger.repository';
import { createUploadReader } from './jobs/read-upload';
import { dispatchInJobTrace } from './observability/dispatch-trace';
import { observeProviderCalls, observeRateLimiter, traceProvider } from './observability/instrument-provider';
import { instrumentTaskQueue } from './observability/instrument-queue';
import { traceUploadReader } from './observability/instrument-uploads';
import { createObservability, type Observability } from './observability/observability';
import { createReadiness, type ReadinessCheck } from './observability/readiness';
import { createCircuitBreakingProvider } from './providers/circuit-breaker';
import { createExploriumClient } from './providers/explorium/explorium-client';
import { createProviderHttpPost } from './providers/explorium/http-post';
import type { EnrichmentProvider } from './providers/provider';
import { exhaustedWindowPauseMs } from './providers/rate-limit/exhausted-window';
import { createRateLimitedProvider } from './providers/rate-limit/rate-limited-provider';
import {
  createInProcessRateLimiter,
  type RateLimiter,
  type RateLimitUnit,
  UNLIMITED,
} from './providers/rate-limit/rate-limiter';
import { createRedisRateLimiter } from './providers/rate-limit/redis-rate-limiter';
import { startSandboxServer } from './providers/sandbox/sandbox-server';
import { createBullmqTaskQueue } from './queue/bullmq-task-queue';
import { createInProcessTaskQueue } from './queue/in-process-task-queue';
import type { TaskQueue } from './queue/task-queue';
import { createSsrfGuard } from './webhooks/ssrf-guard';
import { createWebhookSender, type WebhookSender } from './webhooks/webhook-sender';
import { createWebhooksService } from './webhooks/webhooks.service';

export type Roles = { api: boolean; worker: boolean };

export type ProviderEndpoint = {
  name: 'explorium' | 'sandbox';
  baseUrl: string;
  apiKey: string;
  stop(): Promise<void>;
};

export type System = {
  /** This process: the holder of its claims and roles (role_leases.holder, companies.claim_token). */
  processId: string;
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  queue: TaskQueue;
  provider: EnrichmentProvider;
  providerEndpoint: ProviderEndpoint;
  jobs: JobsService;
  /** Organizations, API keys, the audit log. */
  auth: AuthService;
  dispatcher: Dispatcher;
  retryPolicy: RetryPolicy;
  app: FastifyInstance | null;
  /** Metrics registry, tracer, queue dashboard; `observability.metricsUrl` is a worker's /metrics listener. */
  observability: Observability;
  /** Listens (api role) and starts consuming (worker role). Returns the API's address, if any. */
  start(): Promise<string | null>;
  /** Stops taking requests and tasks, waits for what is running, closes connections. */
  stop(): Promise<void>;
};

const DAY_MS = 86_400_000;
// How long claims and outcomes wait to share one statement: short next to a provider call.
const WRITE_WINDOW_MS = 10;
// A partial provider batch waits for companies still on their way for up to this many windows.
const BATCH_MAX_WAIT_WINDOWS = 10;
const BATCH_IDLE_GRACE_MS = 5;
// Pace a little under the provider's limit: a call sent late by the event loop must not let the
// next window's calls land in this one (a sliding window counts arrivals, not reservations).
const RATE_LIMIT_HEADROOM = 0.98;
// Transient provider failures in a row that pause this process's calls, and for how long.
const CIRCUIT_FAILURE_THRESHOLD = 5;
const CIRCUIT_COOLDOWN_MS = 30_000;
// How often a worker tops the queue up from the database.
const DISPATCH_INTERVAL_MS = 250;
// The feeder role outlives its holder's last renewal by this much: a frozen feeder is replaced within it.
const FEEDER_LEASE_MS = 5_000;
// While the database cannot be reached, how often a worker asks whether it is back.
const DATABASE_PROBE_INTERVAL_MS = 500;

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
    rateLimitUnit: config.SANDBOX_RATE_LIMIT_UNIT,
    rateLimitReset: config.SANDBOX_RATE_LIMIT_RESET,
    omitEmptyLists: config.SANDBOX_OMIT_EMPTY_LISTS,
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
  // This process, as the holder of its claims and of the feeder role.
  const processId = randomUUID();
  const database = connectDatabase(opts.databaseUrl, {
    poolSize: config.DATABASE_POOL_SIZE,
    onError: (err) => logger.warn({ err: err.message }, 'database connection lost; the pool reconnects'),
  });
  // Before migrating: database spans come from a hook on each pool connection as it opens.
  const observability = await createObservability({
    config,
    roles,
    pool: database.pool,
    queueKind: opts.queue?.kind ?? (config.REDIS_URL ? 'bullmq' : 'in-process'),
    queueCounts: () => queue.counts(),
    instanceId: processId,
  });
  // Off where a separate step migrates (compose's migrate service, a rolling deploy): then only
  // check that the schema is not older than this code.
  if (config.MIGRATE_ON_START) await migrateDatabase(database);
  else await assertSchemaCurrent(database);

  const queue = instrumentTaskQueue(
    opts.queue ??
      (config.REDIS_URL
        ? createBullmqTaskQueue({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, logger })
        : createInProcessTaskQueue({ logger })),
    observability,
  );
  const observeCall = observeProviderCalls(opts.provider.name, observability.metrics);
  const gate = createDatabaseGate({
    ping: () => database.ping(),
    probeIntervalMs: DATABASE_PROBE_INTERVAL_MS,
    onDown: (err) =>
      logger.error({ err }, 'database unreachable: provider calls paused, results held until it is back'),
    onUp: (ms) => logger.info({ down_ms: Math.round(ms) }, 'database reachable again: writing held results'),
  });
  const held = createHeldClaims({
    db: database.db,
    gate,
    token: processId,
    leaseMs: config.CLAIM_LEASE_MS,
    renewIntervalMs: config.CLAIM_RENEW_INTERVAL_MS,
    onLost: (c) =>
      logger.warn(
        { org_id: c.orgId, job_id: c.jobId, company_id: c.id },
        'lost the claim on a company (taken over while this worker was frozen or cut off); dropped it',
      ),
    onRenewFailed: (err) => logger.warn({ err }, 'could not renew claim leases; the next tick retries'),
  });

  const rateLimit = providerRateLimit(config, opts.provider);
  // The limit is per key: every process using this key, on any machine, spends from one budget.
  const limiterKey = `${config.QUEUE_PREFIX}:rate-limit:${opts.provider.name}:${createHash('sha256').update(opts.provider.apiKey).digest('hex').slice(0, 16)}`;
  const limiterRedis =
    rateLimit && config.REDIS_URL ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 }) : null;
  limiterRedis?.on('error', (err) =>
    logger.warn({ err: err.message }, 'redis (rate limiter) connection error'),
  );
  const limiter: RateLimiter = !rateLimit
    ? UNLIMITED
    : limiterRedis
      ? createRedisRateLimiter({
          redis: limiterRedis,
          key: limiterKey,
          perMinute: rateLimit.perMinute,
          windowLimit: rateLimit.limit,
        })
      : createInProcessRateLimiter({ perMinute: rateLimit.perMinute, windowLimit: rateLimit.limit });
  const client = createExploriumClient({
    baseUrl: opts.provider.baseUrl,
    apiKey: opts.provider.apiKey,
    name: opts.provider.name,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    logger,
    // Explorium through the egress proxy when one is set; the sandbox directly.
    fetchImpl: createProviderHttpPost({
      viaProxy: opts.provider.name === 'explorium',
      httpProxy: config.HTTP_PROXY,
      httpsProxy: config.HTTPS_PROXY,
      noProxy: config.NO_PROXY,
    }),
    onCall: (info) => {
      observeCall(info);
      // The provider says its window is full: everyone waits one pacing interval, or until the
      // reset when sooner (see exhausted-window.ts for why never a whole reset).
      const pauseMs = exhaustedWindowPauseMs(info, rateLimit, Date.now());
      if (pauseMs > 0) {
        limiter
          .pauseFor(pauseMs)
          .catch((err: unknown) => logger.warn({ err }, 'could not pause the shared rate limiter'));
      }
    },
  });
  // Innermost, so that it decides after any rate-limit wait, right before the call leaves.
  const guardedClient = createClaimGuardedProvider(client, held);
  const limitedProvider = rateLimit
    ? createRateLimitedProvider(guardedClient, {
        limiter: observeRateLimiter(limiter, opts.provider.name, observability.metrics),
        unit: rateLimit.unit,
        limit: rateLimit.limit,
      })
    : guardedClient;
  // One breaker per process: an outage seen by this worker stops its calls until a probe succeeds.
  const provider = createCircuitBreakingProvider(limitedProvider, {
    failureThreshold: CIRCUIT_FAILURE_THRESHOLD,
    cooldownMs: CIRCUIT_COOLDOWN_MS,
    onStateChange: (state, { failures }) =>
      state === 'open'
        ? logger.error({ failures }, 'provider failing call after call: calls paused (circuit open)')
        : logger.info('provider answering again: calls resumed (circuit closed)'),
  });
  const cache = {
    ttlMs: config.ENRICHMENT_CACHE_TTL_DAYS * DAY_MS,
    noMatchTtlMs: config.ENRICHMENT_CACHE_NO_MATCH_TTL_DAYS * DAY_MS,
    scope: config.ENRICHMENT_CACHE_SCOPE,
  };
  if (cache.scope === 'installation') {
    logger.warn(
      'ENRICHMENT_CACHE_SCOPE=installation: the enrichment cache is SHARED by every organization here; ' +
        'one learns from its estimates and results which domains another looked up, and when.',
    );
  }
  const retryPolicy = createRetryPolicy({
    maxAttempts: config.TASK_MAX_ATTEMPTS,
    baseDelayMs: config.TASK_BACKOFF_BASE_MS,
    maxDelayMs: config.TASK_BACKOFF_MAX_MS,
  });
  const dispatcher = createDispatcher({
    db: database.db,
    queue,
    logger,
    maxDepth: config.DISPATCH_QUEUE_DEPTH,
    inJobTrace: dispatchInJobTrace(observability.tracing),
  });
  const jobs = createJobsService({
    db: database.db,
    traceContext: () => observability.tracing.inject(),
    copyTransaction: createCopyTransaction(database.pool),
    dispatcher,
    queue,
    reader: traceUploadReader(
      createUploadReader({
        maxRows: config.MAX_ROWS,
        blockedEmailDomains: personalEmailDomainSet(config.BLOCKED_EMAIL_DOMAINS),
      }),
      observability.tracing,
    ),
    inlineMaxRows: config.UPLOAD_INLINE_MAX_ROWS,
    provider: opts.provider.name,
    cache,
    rateLimit,
    batchSize: provider.maxBatchSize,
    parallelBatches: Math.max(1, Math.floor(config.WORKER_CONCURRENCY / provider.maxBatchSize)),
  });

  // Every request to a URL a user gave goes through this guard (webhooks/ssrf-guard.ts).
  const outboundGuard = createSsrfGuard(config.OUTBOUND_ALLOWED_CIDRS);
  const webhooks = createWebhooksService({ db: database.db, guard: outboundGuard });
  const webhookAttempts = new Counter({
    name: 'gtm_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry = scheduled again, failed = no retry left)',
    labelNames: ['outcome'] as const,
    registers: [observability.metrics.registry],
  });

  const auth = createAuthService({
    db: database.db,
    onBackgroundError: (err) => logger.warn({ err }, 'could not record when an API key was last used'),
  });
  if (config.BOOTSTRAP_API_KEY) {
    const outcome = await auth.ensureBootstrapKey(config.BOOTSTRAP_API_KEY, config.BOOTSTRAP_ORG_ID);
    const prefix = suppliedKeyPrefix(config.BOOTSTRAP_API_KEY);
    if (outcome === 'revoked') {
      logger.warn(
        { key_prefix: prefix },
        'BOOTSTRAP_API_KEY has been revoked: it stays revoked. Remove or replace it.',
      );
    } else if (outcome === 'created') {
      logger.info(
        { key_prefix: prefix, org_id: config.BOOTSTRAP_ORG_ID },
        'BOOTSTRAP_API_KEY: admin key created',
      );
    }
  }
  // The API's rate limit is per key across every API process: one Redis counter per key.
  const rateLimitRedis =
    roles.api && config.REDIS_URL && config.API_RATE_LIMIT_PER_MIN > 0
      ? new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000 })
      : null;
  rateLimitRedis?.on('error', (err) =>
    logger.warn({ err: err.message }, 'redis (API rate limit) connection error'),
  );

  // /readyz: each check answers within READINESS_TIMEOUT_MS or counts as failed. The API port asks
  // what a request needs (database, queue); the operations listener also asks, where this process
  // enriches, whether the provider's circuit lets calls through.
  const readinessOptions = {
    timeoutMs: config.READINESS_TIMEOUT_MS,
    onFailure: (check: string, err: unknown) => logger.warn({ check, err }, 'readiness check failed'),
  };
  const serviceChecks: Record<string, ReadinessCheck> = {
    database: () => database.ping(),
    queue: () => queue.ping(),
  };
  const apiReadiness = createReadiness(serviceChecks, readinessOptions);
  const processReadiness = roles.worker
    ? createReadiness(
        {
          ...serviceChecks,
          provider: async () => {
            if (provider.state() === 'open') throw new Error('provider circuit open: calls paused');
          },
        },
        readinessOptions,
      )
    : apiReadiness;

  // Loaded only where there is an API: a worker has no use for Fastify's plugins or the API
  // reference page (its bundle alone is some 20 MB of heap).
  const app = roles.api
    ? await (await import('./http/app')).buildApp({
        logger,
        jobs,
        webhooks,
        readiness: apiReadiness,
        maxUploadBytes: config.MAX_UPLOAD_BYTES,
        webDir: config.WEB_DIR ?? DEFAULT_WEB_DIR,
        observability,
        auth,
        operatorKey: config.OPERATOR_API_KEY,
        limits: {
          rateLimitPerMinute: config.API_RATE_LIMIT_PER_MIN,
          rateLimitRedis,
          rateLimitNamespace: `${config.QUEUE_PREFIX}:api-rate-limit:`,
          requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
          idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_MS,
          corsOrigins: config.CORS_ORIGINS,
          trustProxy: config.TRUST_PROXY,
        },
      })
    : null;

  let sweeper: NodeJS.Timeout | null = null;
  let enrichCompany: EnrichCompanyHandler | null = null;
  let feeder: NodeJS.Timeout | null = null;
  let feederLease: RoleLease | null = null;
  let webhookSender: WebhookSender | null = null;

  return {
    processId,
    config,
    logger,
    database,
    queue,
    provider,
    providerEndpoint: opts.provider,
    jobs,
    auth,
    dispatcher,
    retryPolicy,
    app,
    observability,
    async start() {
      if (roles.worker) {
        const flow = createBatchFlow({ idleGraceMs: BATCH_IDLE_GRACE_MS });
        const batcher = createProviderBatcher(traceProvider(provider, observability.tracing), {
          windowMs: config.PROVIDER_BATCH_WINDOW_MS,
          maxWaitMs: config.PROVIDER_BATCH_WINDOW_MS * BATCH_MAX_WAIT_WINDOWS,
          flow,
          rateLimited: () => limiter.waiting() > 0,
          // Organizations whose cache entries are their own do not share a lookup in a batch either.
          separateOrganizations: config.ENRICHMENT_CACHE_SCOPE === 'org',
          // Credits are reserved before each bulk-enrich call, so max_credits is a cap (credit-budget.ts).
          budget: createCreditBudget({
            db: database.db,
            onError: (err, what) => logger.warn({ err }, `could not ${what} credit reservations`),
          }),
          onCall: async (report) => {
            try {
              // A call that reached the provider is recorded, however long the database is away.
              const paused = await gate.retryUntilWritten(() =>
                recordProviderCall(database.db, { provider: opts.provider.name, ...report }),
              );
              for (const jobId of paused)
                logger.warn({ job_id: jobId }, 'job paused: it reached its max_credits');
            } catch (err) {
              // The ledger must not fail a company whose provider call succeeded.
              logger.error({ err }, 'could not record a provider call in the ledger');
            }
          },
          // Opened before it leaves, so that a call in flight when this process dies is counted.
          // No call leaves until its rows are written: while the database is away, none does.
          onSend: (report) =>
            gate.retryUntilWritten(() =>
              openProviderCall(database.db, { provider: opts.provider.name, ...report }),
            ),
          onUnsent: (callId) =>
            gate
              .retryUntilWritten(() => forgetProviderCall(database.db, callId))
              .catch((err: unknown) => logger.error({ err }, 'could not remove a call that was not sent')),
        });
        enrichCompany = createEnrichCompany({
          db: database.db,
          batcher,
          retryPolicy,
          logger,
          writeWindowMs: WRITE_WINDOW_MS,
          flow,
          held,
          gate,
          onCompanyFinished: (outcome, source) => observability.metrics.companyFinished(outcome, source),
          onJobCompleted: (orgId, jobId) => {
            jobs.get(orgId, jobId).then(
              (job) => observability.metrics.jobCompleted(job),
              (err: unknown) =>
                logger.warn({ err, job_id: jobId }, 'could not read a completed job for metrics'),
            );
          },
          claim: {
            provider: opts.provider.name,
            token: processId,
            leaseMs: config.CLAIM_LEASE_MS,
            cacheTtlMs: cache.ttlMs,
            noMatchCacheTtlMs: cache.noMatchTtlMs,
            cacheScope: cache.scope,
          },
        });
        held.start();
        // Every worker sends due webhook deliveries; each is claimed by one of them at a time.
        webhookSender = createWebhookSender({
          db: database.db,
          guard: outboundGuard,
          logger,
          retryDelaysMs: config.WEBHOOK_RETRY_DELAYS_MS,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
          eventData: async (orgId, jobId) => ({ job: await jobs.get(orgId, jobId) }),
          onAttempt: (outcome) => webhookAttempts.inc({ outcome }),
        });
        webhookSender.start();
        queue.startWorker(
          {
            'enrich-company': enrichCompany,
            'ingest-upload': ({ orgId, jobId }) => jobs.ingestStoredUpload(orgId, jobId),
          },
          { concurrency: config.WORKER_CONCURRENCY, fallbackRetryDelayMs: (n) => retryPolicy.delayMs(n) },
        );
        // The database repairs the queue: at start and then periodically, whatever it says is
        // unfinished (queued, or processing with a lapsed lease) gets a task again.
        const sweep = async () => {
          const uploads = await jobs.resumeUnreadUploads();
          if (uploads > 0) logger.info({ uploads }, 'resumed reading stored uploads found in the database');
          const sent = await dispatcher.sweep();
          if (sent > 0) logger.info({ tasks: sent }, 'dispatched unfinished companies found in the database');
        };
        // One worker at a time feeds a shared queue and sweeps: each walks the jobs with cursors of
        // its own, so N feeders would offer every company to the queue N times. The role is an
        // expiring lease (ADR 0005): a feeder that dies or freezes loses it within seconds, and
        // the worker that takes it over starts with a sweep, as at start.
        feederLease =
          queue.kind === 'bullmq'
            ? createRoleLease({
                db: database.db,
                role: 'feeder',
                holder: processId,
                ttlMs: FEEDER_LEASE_MS,
                onError: (err) => logger.warn({ err }, 'could not renew or take the feeder role'),
              })
            : null;
        let feeding = false;
        const feeds = async (): Promise<'started' | 'feeding' | 'not'> => {
          const was = feeding;
          feeding = feederLease ? await feederLease.held() : true;
          return !feeding ? 'not' : was ? 'feeding' : 'started';
        };
        if ((await feeds()) !== 'not') await sweep();
        sweeper = setInterval(() => {
          feeds()
            .then(async (f) => {
              if (f !== 'not') await sweep();
            })
            .catch((err: unknown) => logger.warn({ err }, 'sweep failed; the next one retries'));
        }, config.SWEEP_INTERVAL_MS);
        sweeper.unref();
        // Keeps the queue fed as it drains, never more than DISPATCH_QUEUE_DEPTH deep.
        feeder = setInterval(() => {
          feeds()
            .then(async (f) => {
              if (f === 'started') await sweep();
              else if (f === 'feeding') await dispatcher.topUp();
            })
            .catch((err: unknown) => logger.warn({ err }, 'top-up failed; the next one retries'));
        }, DISPATCH_INTERVAL_MS);
        feeder.unref();
      }
      await observability.startMetricsListener(processReadiness);
      if (app) return app.listen({ host: config.HOST, port: config.PORT });
      return null;
    },
    async stop() {
      if (sweeper) clearInterval(sweeper);
      if (feeder) clearInterval(feeder);
      await app?.close();
      // A top-up started by a request or a finished upload needs the queue and the pool: let it end.
      await dispatcher.idle();
      // Finish what is in hand while the grace lasts; whatever is still held then goes back to the
      // queue, so a stopped worker leaves no company processing.
      await queue.close({ waitMs: config.SHUTDOWN_GRACE_MS });
      const released = await enrichCompany?.releaseHeld();
      if (released) logger.info({ companies: released }, 'released companies still in hand at shutdown');
      held.stop();
      await webhookSender?.stop();
      await dispatcher.idle();
      limiterRedis?.disconnect();
      rateLimitRedis?.disconnect();
      await feederLease?.release();
      gate.close();
      await database.close();
      await observability.stop();
    },
  };
}

/**
 * Explorium's limit is a setting (per key, in requests or records). The sandbox counts requests
 * and is unlimited unless SANDBOX_RATE_LIMIT_PER_MIN says otherwise, so demos run at full speed.
 */
function providerRateLimit(
  config: Config,
  provider: ProviderEndpoint,
): { perMinute: number; unit: RateLimitUnit; limit: number } | null {
  if (provider.name === 'explorium') {
    return {
      perMinute: config.EXPLORIUM_RATE_LIMIT * RATE_LIMIT_HEADROOM,
      unit: config.EXPLORIUM_RATE_LIMIT_UNIT,
      limit: config.EXPLORIUM_RATE_LIMIT,
    };
  }
  return config.SANDBOX_RATE_LIMIT_PER_MIN > 0
    ? {
        perMinute: config.SANDBOX_RATE_LIMIT_PER_MIN * RATE_LIMIT_HEADROOM,
        unit: config.SANDBOX_RATE_LIMIT_UNIT,
        limit: config.SANDBOX_RATE_LIMIT_PER_MIN,
      }
    : null;
}
