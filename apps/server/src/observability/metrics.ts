/**
 * Prometheus metrics of one system, in its own registry: tests run several systems in one
 * process, and the global default registry would mix their counts (and refuse a second
 * registration of the same name). Served at /metrics by the API and by a worker's metrics listener.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueCounts } from '../queue/task-queue';

export type FinishedOutcome = 'enriched' | 'not_found' | 'failed';
export type TaskResult = 'ok' | 'retry' | 'error';

/** What every provider client reports of each HTTP call (Explorium's and PDL's onCall). */
export type ProviderCallInfo = {
  endpoint: string;
  /** Null when no answer arrived. */
  status: number | null;
  durationMs: number;
  items: number;
  rateLimit: { remaining: number | null; limit?: number | null; resetAtMs?: number | null } | null;
  correlationId?: string | null;
};

/** Seconds; HTTP answers are mostly milliseconds, an upload of a large file takes seconds. */
const HTTP_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; a provider call is a bulk call of up to 50 items. */
const PROVIDER_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
/** Seconds; a task includes the batch window and two provider calls. */
const TASK_BUCKETS_S = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds; jobs run from seconds (a short list) to hours (a million rows at the provider's pace). */
const JOB_BUCKETS_S = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21_600, 86_400];
const BATCH_ITEM_BUCKETS = [1, 5, 10, 20, 30, 40, 50];

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(opts: {
  /** Read on each scrape; a failing read skips the queue series instead of failing the scrape. */
  queueCounts: () => Promise<QueueCounts>;
  /** `api`, `worker` or `embedded`: a label on every series, to tell processes apart on one dashboard. */
  role: string;
}) {
  const registry = new Registry();
  registry.setDefaultLabels({ role: opts.role });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpRequestDuration = new Histogram({
    name: 'gtm_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS_S,
    registers,
  });
  const companiesFinished = new Counter({
    name: 'gtm_companies_finished_total',
    help: 'Companies that reached a final status, by outcome (failed = dead letter) and source (provider, cache, none)',
    labelNames: ['outcome', 'source'] as const,
    registers,
  });
  const taskDuration = new Histogram({
    name: 'gtm_task_duration_seconds',
    help: 'Task handling time in the worker, by task and result (ok, retry = delivered again later, error)',
    labelNames: ['task', 'result'] as const,
    buckets: TASK_BUCKETS_S,
    registers,
  });
  const providerCallDuration = new Histogram({
    name: 'gtm_provider_call_duration_seconds',
    help: 'Provider HTTP calls by provider, endpoint and HTTP status (none = no response)',
    labelNames: ['provider', 'endpoint', 'status'] as const,
    buckets: PROVIDER_BUCKETS_S,
    registers,
  });
  const providerCallErrors = new Counter({
    name: 'gtm_provider_call_errors_total',
    help: 'Provider HTTP calls that did not answer 2xx, by provider, endpoint and status (none = no response)',
    labelNames: ['provider', 'endpoint', 'status'] as const,
    registers,
  });
  const providerCallItems = new Histogram({
    name: 'gtm_provider_call_items',
    help: 'Items sent per provider call (bulk calls take up to 50): how well batching fills calls',
    labelNames: ['provider', 'endpoint'] as const,
    buckets: BATCH_ITEM_BUCKETS,
    registers,
  });
  const providerRateLimited = new Counter({
    name: 'gtm_provider_rate_limited_total',
    help: 'Provider calls answered 429: each one makes its companies wait for Retry-After',
    labelNames: ['provider', 'endpoint'] as const,
    registers,
  });
  const rateLimitWait = new Histogram({
    name: 'gtm_provider_rate_limit_wait_seconds',
    help: 'Time provider calls waited for the shared rate limit before being sent',
    labelNames: ['provider'] as const,
    buckets: [0, 0.1, 0.5, 1, 5, 15, 30, 60, 120],
    registers,
  });
  const providerRateLimitRemaining = new Gauge({
    name: 'gtm_provider_rate_limit_remaining',
    help: 'Calls left in the current rate-limit window, from the last X-RateLimit-Remaining header seen',
    labelNames: ['provider'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: 'gtm_job_duration_seconds',
    help: 'Jobs from creation to completion',
    buckets: JOB_BUCKETS_S,
    registers,
  });
  const dispatcherLag = new Histogram({
    name: 'gtm_dispatcher_lag_seconds',
    help: 'Time from a job being created to its first company being claimed by a worker, observed when the job completes',
    buckets: JOB_BUCKETS_S,
    registers,
  });
  const webhookAttempts = new Counter({
    name: 'gtm_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry = scheduled again, failed = no retry left)',
    labelNames: ['outcome'] as const,
    registers,
  });
  new Gauge({
    name: 'gtm_queue_tasks',
    help: 'Tasks in the queue by state, read at scrape time (with BullMQ every process sees the same shared queue)',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      this.reset();
      let counts: QueueCounts;
      try {
        counts = await opts.queueCounts();
      } catch {
        return;
      }
      for (const [state, n] of Object.entries(counts)) {
        this.set({ state: state === 'waitingLater' ? 'waiting_later' : state }, n);
      }
    },
  });

  return {
    registry,
    httpRequestDuration,
    taskDuration,

    /** `source` null: the company failed before any answer (no provider, no cache). */
    companyFinished(outcome: FinishedOutcome, source: 'provider' | 'cache' | null): void {
      companiesFinished.inc({ outcome, source: source ?? 'none' });
    },

    rateLimitWait(provider: string, waitMs: number): void {
      rateLimitWait.observe({ provider }, waitMs / 1000);
    },

    /** A provider client's onCall hook. */
    providerCall(provider: string, call: ProviderCallInfo): void {
      const status = call.status === null ? 'none' : String(call.status);
      providerCallDuration.observe({ provider, endpoint: call.endpoint, status }, call.durationMs / 1000);
      providerCallItems.observe({ provider, endpoint: call.endpoint }, call.items);
      if (call.status === null || call.status < 200 || call.status > 299) {
        providerCallErrors.inc({ provider, endpoint: call.endpoint, status });
      }
      if (call.status === 429) providerRateLimited.inc({ provider, endpoint: call.endpoint });
      if (call.rateLimit?.remaining != null)
        providerRateLimitRemaining.set({ provider }, call.rateLimit.remaining);
    },

    webhookAttempt(outcome: 'delivered' | 'retry' | 'failed'): void {
      webhookAttempts.inc({ outcome });
    },

    /** A completed job's timestamps (ISO strings, as the API shows them). */
    jobCompleted(job: { created_at: string; started_at: string | null; finished_at: string | null }): void {
      const created = Date.parse(job.created_at);
      if (job.finished_at) jobDuration.observe(Math.max(0, Date.parse(job.finished_at) - created) / 1000);
      if (job.started_at) dispatcherLag.observe(Math.max(0, Date.parse(job.started_at) - created) / 1000);
    },
  };
}
