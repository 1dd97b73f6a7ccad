/**
 * What a worker process runs besides what every process has: the enrichment task handler, the
 * lease renewals of the companies it holds, webhook deliveries, the queue consumer and (while it
 * holds the feeder role) the feeding loop. Wired here so that system.ts stays a list of parts.
 */
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Database } from './db/database';
import { createDispatchLoop, type DispatchLoop } from './dispatch/dispatch-loop';
import type { Dispatcher } from './dispatch/dispatcher';
import type { DatabaseGate } from './enrichment/database-gate';
import type { EnrichCompanyHandler } from './enrichment/enrich-company';
import { createEnrichmentWorker } from './enrichment/enrichment-worker';
import type { HeldClaims } from './enrichment/held-claims';
import type { RetryPolicy } from './enrichment/retry-policy';
import type { DispatchLease } from './infrastructure';
import type { JobsService } from './jobs/jobs.service';
import type { Observability } from './observability/observability';
import type { EnrichmentProvider } from './providers/provider';
import type { RateLimiter } from './providers/rate-limit/rate-limiter';
import type { TaskQueue } from './queue/task-queue';
import type { SsrfGuard } from './webhooks/ssrf-guard';
import { createWebhookSender, type WebhookSender } from './webhooks/webhook-sender';

// How often the feeder tops the queue up from the database.
const DISPATCH_INTERVAL_MS = 250;

/**
 * Tasks a worker runs at once: WORKER_CONCURRENCY for each provider it can ask. In a waterfall a
 * worker holds companies at several providers at once, and a slow later step (the web provider)
 * holds slots the first provider's batches are filled from: with 100 slots for three providers,
 * Explorium's batches left with 45 companies of 50 on average (42.9 calls per 1,000 domains);
 * with 200, 49.5 (39.4). One provider: WORKER_CONCURRENCY, as before.
 */
export function taskSlots(config: Pick<Config, 'WORKER_CONCURRENCY'>, providers: number): number {
  return config.WORKER_CONCURRENCY * Math.max(1, providers);
}

export type WorkerRole = {
  start(): Promise<void>;
  /** Stops feeding the queue (first, so that nothing new is offered while the rest stops). */
  stopFeeding(): Promise<void>;
  /** After the queue has closed: sends what is still held back to the queue, stops the rest. */
  stop(): Promise<void>;
};

export function createWorkerRole(deps: {
  config: Config;
  logger: Logger;
  db: Database;
  queue: TaskQueue;
  jobs: JobsService;
  dispatcher: Dispatcher;
  lease: DispatchLease;
  /** Each provider this worker can ask, traced, with its limiter. */
  providers: ReadonlyArray<{ provider: EnrichmentProvider; limiter: RateLimiter }>;
  gate: DatabaseGate;
  held: HeldClaims;
  retryPolicy: RetryPolicy;
  observability: Observability;
  outboundGuard: SsrfGuard;
  /** Claims: this process, and how fresh a cached answer must be. */
  claim: Parameters<typeof createEnrichmentWorker>[0]['claim'];
}): WorkerRole {
  const { config, logger, db, jobs, dispatcher, observability } = deps;
  let enrichCompany: EnrichCompanyHandler | null = null;
  let webhookSender: WebhookSender | null = null;
  let dispatchLoop: DispatchLoop | null = null;

  return {
    async start() {
      enrichCompany = createEnrichmentWorker({
        config,
        db,
        providers: deps.providers,
        gate: deps.gate,
        held: deps.held,
        retryPolicy: deps.retryPolicy,
        claim: deps.claim,
        logger,
        metrics: observability.metrics,
        readJob: (orgId, jobId) => jobs.get(orgId, jobId),
        // A later step waits in a later lane: the first step keeps the slots while it has companies.
        handOn: (tasks) =>
          deps.queue.enqueue(
            'enrich-company',
            tasks.map(({ id, step, ...payload }) => ({ id, payload, lane: step })),
          ),
      });
      deps.held.start();
      // Every worker sends due webhook deliveries; each is claimed by one of them at a time.
      webhookSender = createWebhookSender({
        db,
        guard: deps.outboundGuard,
        logger,
        retryDelaysMs: config.WEBHOOK_RETRY_DELAYS_MS,
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
        eventData: async (orgId, jobId) => ({ job: await jobs.get(orgId, jobId) }),
        onAttempt: (outcome) => observability.metrics.webhookAttempt(outcome),
      });
      webhookSender.start();
      deps.queue.startWorker(
        {
          'enrich-company': enrichCompany,
          'ingest-upload': ({ orgId, jobId }) => jobs.ingestStoredUpload(orgId, jobId),
        },
        {
          concurrency: taskSlots(config, deps.providers.length),
          fallbackRetryDelayMs: (n) => deps.retryPolicy.delayMs(n),
        },
      );
      dispatchLoop = createDispatchLoop({
        work: {
          resumeUnreadUploads: () => jobs.resumeUnreadUploads(),
          sweep: () => dispatcher.sweep(),
          topUp: () => dispatcher.topUp(),
        },
        lease: deps.lease,
        logger,
        feedIntervalMs: DISPATCH_INTERVAL_MS,
        sweepIntervalMs: config.SWEEP_INTERVAL_MS,
      });
      await dispatchLoop.start();
    },
    async stopFeeding() {
      await dispatchLoop?.stop();
    },
    async stop() {
      // The queue has closed: whatever is still held goes back to it, so a stopped worker leaves
      // no company processing.
      const released = await enrichCompany?.releaseHeld();
      if (released) logger.info({ companies: released }, 'released companies still in hand at shutdown');
      deps.held.stop();
      await webhookSender?.stop();
    },
  };
}
