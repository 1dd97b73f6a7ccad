/**
 * createSystem: the composition root. It wires the database, the mode's infrastructure, the
 * provider stack and the services, and decides nothing else: the mode is read once in
 * infrastructure.ts, the provider stack is built in providers/provider-stack.ts, a worker's
 * enrichment in enrichment/enrichment-worker.ts, and the feeding loop lives in
 * dispatch/dispatch-loop.ts. Entry points decide which roles a process plays (api, worker or
 * both) and where the database and provider are.
 */

import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type AuthService, createAuthService } from './auth/auth.service';
import { applyBootstrapKey } from './auth/bootstrap-key';
import type { Config } from './config';
import { connectDatabase, type DatabaseHandle } from './db/database';
import { assertSchemaCurrent, migrateDatabase } from './db/migrate';
import { createDispatcher, type Dispatcher } from './dispatch/dispatcher';
import { cachePolicy, claimCache } from './enrichment/cache-policy';
import { createClaimKeeping } from './enrichment/claim-keeping';
import { type RetryPolicy, retryPolicyFromSettings } from './enrichment/retry-policy';
import { apiOptions } from './http/api-options';
import { createInfrastructure } from './infrastructure';
import type { JobsService } from './jobs/jobs.service';
import { jobsServiceFromSettings } from './jobs/jobs-from-settings';
import { dispatchInJobTrace } from './observability/dispatch-trace';
import { traceProvider } from './observability/instrument-provider';
import { instrumentTaskQueue } from './observability/instrument-queue';
import { createObservability, type Observability } from './observability/observability';
import { systemReadiness } from './observability/readiness';
import { traitsOf } from './providers/provider';
import { createProviderStack, type ProviderSet } from './providers/provider-stack';
import type { TaskQueue } from './queue/task-queue';
import { createSsrfGuard } from './webhooks/ssrf-guard';
import { createWebhooksService } from './webhooks/webhooks.service';
import { createWorkerRole } from './worker-role';

export { type ProviderEndpoint, type ProviderSet, resolveProviders } from './providers/provider-stack';

export type Roles = { api: boolean; worker: boolean };

export type System = {
  /** This process: the holder of its claims and roles (role_leases.holder, companies.claim_token). */
  processId: string;
  config: Config;
  logger: Logger;
  database: DatabaseHandle;
  queue: TaskQueue;
  /** The providers this installation can ask, and its default waterfall. */
  providers: ProviderSet;
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

const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/out', import.meta.url));

export async function createSystem(opts: {
  config: Config;
  logger: Logger;
  databaseUrl: string;
  roles: Roles;
  providers: ProviderSet;
}): Promise<System> {
  const { config, logger, roles } = opts;
  // This process, as the holder of its claims and of the feeder role.
  const processId = randomUUID();
  const database = connectDatabase(opts.databaseUrl, {
    poolSize: config.DATABASE_POOL_SIZE,
    onError: (err) => logger.warn({ err: err.message }, 'database connection lost; the pool reconnects'),
  });
  const infrastructure = createInfrastructure(config, { logger, roles });
  // Before migrating: database spans come from a hook on each pool connection as it opens.
  const observability = await createObservability({
    config,
    roles,
    pool: database.pool,
    queueDashboard: infrastructure.queueDashboard,
    queueCounts: () => queue.counts(),
    instanceId: processId,
  });
  // Off where a separate step migrates (compose's migrate service, a rolling deploy): then only
  // check that the schema is not older than this code.
  if (config.MIGRATE_ON_START) await migrateDatabase(database);
  else await assertSchemaCurrent(database);
  const queue = instrumentTaskQueue(infrastructure.queue, observability);
  const { gate, held } = createClaimKeeping({ database, token: processId, config, logger });
  // One stack per provider: each has its own limiter, breaker, ledger rows and cache entries.
  const stacks = opts.providers.available.map((endpoint) =>
    createProviderStack({
      config,
      logger,
      endpoint,
      held,
      rateLimiter: infrastructure.rateLimiter,
      metrics: observability.metrics,
    }),
  );
  const cache = cachePolicy(config, logger);
  const retryPolicy = retryPolicyFromSettings(config);
  const dispatcher = createDispatcher({
    db: database.db,
    queue,
    logger,
    maxDepth: config.DISPATCH_QUEUE_DEPTH,
    inJobTrace: dispatchInJobTrace(observability.tracing),
  });
  const jobs = jobsServiceFromSettings(config, {
    database,
    dispatcher,
    queue,
    tracing: observability.tracing,
    providers: stacks.map((stack) => ({ ...traitsOf(stack.provider), rateLimit: stack.rateLimit })),
    waterfall: opts.providers.waterfall,
    cache,
  });
  // Every request to a URL a user gave goes through this guard (webhooks/ssrf-guard.ts).
  const outboundGuard = createSsrfGuard(config.OUTBOUND_ALLOWED_CIDRS);
  const webhooks = createWebhooksService({ db: database.db, guard: outboundGuard });
  const auth = createAuthService({
    db: database.db,
    onBackgroundError: (err) => logger.warn({ err }, 'could not record when an API key was last used'),
  });
  if (config.BOOTSTRAP_API_KEY)
    await applyBootstrapKey(auth, config.BOOTSTRAP_API_KEY, config.BOOTSTRAP_ORG_ID, logger);
  // Each check answers within READINESS_TIMEOUT_MS or counts as failed.
  const readiness = systemReadiness({
    database: () => database.ping(),
    queue: () => queue.ping(),
    providerCircuit: roles.worker
      ? () => worstCircuit(stacks.map((stack) => stack.provider.state()))
      : undefined,
    timeoutMs: config.READINESS_TIMEOUT_MS,
    onFailure: (check, err) => logger.warn({ check, err }, 'readiness check failed'),
  });
  // Loaded only where there is an API: a worker has no use for Fastify's plugins or the API
  // reference page (its bundle alone is some 20 MB of heap).
  const app = roles.api
    ? await (await import('./http/app')).buildApp({
        logger,
        jobs,
        webhooks,
        readiness: readiness.api,
        observability,
        auth,
        ...apiOptions(config, {
          rateLimitRedis: infrastructure.apiRateLimitRedis,
          defaultWebDir: DEFAULT_WEB_DIR,
        }),
      })
    : null;
  const worker = roles.worker
    ? createWorkerRole({
        config,
        logger,
        db: database.db,
        queue,
        jobs,
        dispatcher,
        lease: infrastructure.dispatchLease(database.db, processId),
        providers: stacks.map((stack) => ({
          provider: traceProvider(stack.provider, observability.tracing),
          limiter: stack.limiter,
        })),
        gate,
        held,
        retryPolicy,
        observability,
        outboundGuard,
        claim: {
          token: processId,
          leaseMs: config.CLAIM_LEASE_MS,
          ...claimCache(cache),
        },
      })
    : null;
  return {
    processId,
    config,
    logger,
    database,
    queue,
    providers: opts.providers,
    jobs,
    auth,
    dispatcher,
    retryPolicy,
    app,
    observability,
    async start() {
      await worker?.start();
      await observability.startMetricsListener(readiness.process);
      if (app) return app.listen({ host: config.HOST, port: config.PORT });
      return null;
    },
    async stop() {
      await worker?.stopFeeding();
      if (app) await closeHttp(app);
      // A top-up started by a request or a finished upload needs the queue and the pool: let it end.
      await dispatcher.idle();
      // Finish what is in hand while the grace lasts; whatever is still held then goes back to the
      // queue, so a stopped worker leaves no company processing.
      await queue.close({ waitMs: config.SHUTDOWN_GRACE_MS });
      await worker?.stop();
      await dispatcher.idle();
      infrastructure.close();
      await Promise.all(stacks.map((stack) => stack.close()));
      gate.close();
      await database.close();
      await observability.stop();
    },
  };
}

/**
 * How long requests still being answered when a stop begins may go on. A download whose client
 * stopped reading (or went away without closing its socket) would otherwise hold the close until
 * its socket timed out, a minute or more, past the stop's deadline; a long export is cut too.
 */
const HTTP_CLOSE_GRACE_MS = 5_000;

/** Stops taking requests, lets those in flight end within HTTP_CLOSE_GRACE_MS, then cuts the rest. */
async function closeHttp(app: FastifyInstance): Promise<void> {
  const cut = setTimeout(() => app.server.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}

/** A worker is as ready as its least ready provider: an open circuit anywhere stops its jobs there. */
function worstCircuit(states: ('closed' | 'open' | 'half-open')[]): 'closed' | 'open' | 'half-open' {
  if (states.includes('open')) return 'open';
  return states.includes('half-open') ? 'half-open' : 'closed';
}
