/**
 * A worker's enrichment, put together: the provider batcher with its credit budget and its
 * ledger reactions, and the company task handler that feeds it. Every provider call is written
 * to the ledger before it leaves (so a worker killed mid-call leaves it counted) and closed with
 * what it billed after; while the database cannot be reached, no call leaves and results wait.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/database';
import type { Metrics } from '../observability/metrics';
import type { EnrichmentProvider } from '../providers/provider';
import type { RateLimiter } from '../providers/rate-limit/rate-limiter';
import { createBatchFlow } from './batch-flow';
import type { ClaimOptions } from './company-state.repository';
import { createCreditBudget } from './credit-budget';
import type { DatabaseGate } from './database-gate';
import { createEnrichCompany, type EnrichCompanyDeps, type EnrichCompanyHandler } from './enrich-company';
import type { HeldClaims } from './held-claims';
import {
  forgetProviderCall,
  type OpenProviderCall,
  openProviderCall,
  recordProviderCall,
} from './ledger.repository';
import { createProviderBatcher, type ProviderCallReport } from './provider-batcher';
import type { RetryPolicy } from './retry-policy';

// How long claims and outcomes wait to share one statement: short next to a provider call.
const WRITE_WINDOW_MS = 10;
// A partial provider batch waits for companies still on their way for up to this many windows.
const BATCH_MAX_WAIT_WINDOWS = 10;
const BATCH_IDLE_GRACE_MS = 5;

/** The ledger's side of each provider call: opened before it leaves, closed after, or removed if never sent. */
export function providerCallLedger(opts: { db: Db; gate: DatabaseGate; provider: string; logger: Logger }) {
  const { db, gate, provider, logger } = opts;
  return {
    async onCall(report: ProviderCallReport): Promise<void> {
      try {
        // A call that reached the provider is recorded, however long the database is away.
        const paused = await gate.retryUntilWritten(() => recordProviderCall(db, { provider, ...report }));
        for (const jobId of paused) logger.warn({ job_id: jobId }, 'job paused: it reached its max_credits');
      } catch (err) {
        // The ledger must not fail a company whose provider call succeeded.
        logger.error({ err }, 'could not record a provider call in the ledger');
      }
    },
    // No call leaves until its row is written: while the database is away, none does.
    onSend: (report: Omit<OpenProviderCall, 'provider'>) =>
      gate.retryUntilWritten(() => openProviderCall(db, { provider, ...report })),
    onUnsent: (callId: string) =>
      gate
        .retryUntilWritten(() => forgetProviderCall(db, callId))
        .catch((err: unknown) => logger.error({ err }, 'could not remove a call that was not sent')),
  };
}

export function createEnrichmentWorker(opts: {
  config: Config;
  db: Db;
  /** Each provider this worker can ask: its stack (providers/provider-stack.ts), traced, and its limiter. */
  providers: ReadonlyArray<{ provider: EnrichmentProvider; limiter: RateLimiter }>;
  gate: DatabaseGate;
  held: HeldClaims;
  retryPolicy: RetryPolicy;
  claim: ClaimOptions;
  logger: Logger;
  metrics: Metrics;
  /** Delivers the next waterfall step of companies handed on (enrich-company.ts). */
  handOn: EnrichCompanyDeps['handOn'];
  /** Reads a job the way the API answers it (for the completed-job metrics). */
  readJob: (orgId: string, jobId: string) => Promise<Parameters<Metrics['jobCompleted']>[0]>;
}): EnrichCompanyHandler {
  const { config, db, logger, metrics } = opts;
  const flow = createBatchFlow({ idleGraceMs: BATCH_IDLE_GRACE_MS });
  // Credits are reserved before each bulk-enrich call, so max_credits is a cap (credit-budget.ts);
  // one budget for every provider: a job's max_credits counts the credits of its whole waterfall.
  const budget = createCreditBudget({
    db,
    onError: (err, what) => logger.warn({ err }, `could not ${what} credit reservations`),
  });
  const batchers = new Map(
    opts.providers.map(({ provider, limiter }) => [
      provider.name,
      createProviderBatcher(provider, {
        windowMs: config.PROVIDER_BATCH_WINDOW_MS,
        maxWaitMs: config.PROVIDER_BATCH_WINDOW_MS * BATCH_MAX_WAIT_WINDOWS,
        flow,
        rateLimited: () => limiter.waiting() > 0,
        // Organizations whose cache entries are their own do not share a lookup in a batch either.
        separateOrganizations: config.ENRICHMENT_CACHE_SCOPE === 'org',
        budget,
        ...providerCallLedger({ db, gate: opts.gate, provider: provider.name, logger }),
      }),
    ]),
  );
  return createEnrichCompany({
    db,
    batchers,
    retryPolicy: opts.retryPolicy,
    logger,
    writeWindowMs: WRITE_WINDOW_MS,
    flow,
    held: opts.held,
    gate: opts.gate,
    claim: opts.claim,
    handOn: opts.handOn,
    onCompanyFinished: (outcome, source) => metrics.companyFinished(outcome, source),
    onJobCompleted: (orgId, jobId) => {
      opts.readJob(orgId, jobId).then(
        (job) => metrics.jobCompleted(job),
        (err: unknown) => logger.warn({ err, job_id: jobId }, 'could not read a completed job for metrics'),
      );
    },
  });
}
