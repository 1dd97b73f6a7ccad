/**
 * The task handler: enriches one company. Claim it (queued → processing), take a fresh cached
 * result or match its domain and fetch firmographics, write the outcome with the job's counters.
 * Claims, outcomes and provider calls all go through micro-batchers, so many companies in flight
 * share one statement and one bulk call while each keeps its own status, retries and errors.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { pauseJob } from '../jobs/jobs.repository';
import { isItemError, isProviderError } from '../providers/provider';
import { RetryTaskLater, type TaskHandler } from '../queue/task-queue';
import type { BatchFlow } from './batch-flow';
import {
  type ClaimedCompany,
  type ClaimOptions,
  type CompanyOutcome,
  claimCompanies,
  finishCompanies,
  transitionCompany,
} from './company-state.repository';
import { isCreditBudgetExhausted } from './credit-budget';
import type { DatabaseGate } from './database-gate';
import type { HeldClaim, HeldClaims } from './held-claims';
import { createMicroBatcher } from './micro-batcher';
import type { ProviderBatcher } from './provider-batcher';
import type { RetryPolicy } from './retry-policy';

export type EnrichCompanyDeps = {
  db: Db;
  batcher: ProviderBatcher;
  retryPolicy: RetryPolicy;
  logger: Logger;
  claim: ClaimOptions;
  /** The companies this process holds, with their leases (shared with the provider's last step). */
  held: HeldClaims;
  /** Holds outcomes and waits while the database is unreachable. */
  gate: DatabaseGate;
  /** How long claims and outcomes wait to share one statement. */
  writeWindowMs: number;
  /** Tells the provider batches how many tasks are in flight (see batch-flow.ts). */
  flow?: BatchFlow;
  /** Called once when a company's outcome completes its job. */
  onJobCompleted?: (orgId: string, jobId: string) => void;
  /** Called for every company outcome written (metrics). */
  onCompanyFinished?: (outcome: CompanyOutcome['to'], source: CompanyOutcome['source']) => void;
};

/** Why a not-found company has no firmographics, the same from the provider or the cache. */
const NO_MATCH = { code: 'NO_MATCH', message: 'The provider has no company for this domain.' };

// Rows per claim or outcome statement: a few provider batches' worth.
const WRITE_BATCH_ROWS = 200;

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export type EnrichCompanyHandler = TaskHandler<'enrich-company'> & {
  /** Sends every company this process still holds back to the queue (shutdown): returns how many. */
  releaseHeld(): Promise<number>;
};

export function createEnrichCompany(deps: EnrichCompanyDeps): EnrichCompanyHandler {
  const { db, batcher, retryPolicy, held, gate } = deps;

  // Keyed by company: a task reaches the claim only when no other task of this process has the
  // company in hand (see `inHand` below), so one key is one delivery.
  const claims = createMicroBatcher<
    string,
    ClaimedCompany | null,
    { orgId: string; jobId: string; companyId: string }
  >({
    maxSize: WRITE_BATCH_ROWS,
    windowMs: deps.writeWindowMs,
    async runBatch(ids, metas) {
      const requests = metas.map((m) => m[0]!);
      // Repeated until the database answers: a claim cut off with its connection may have
      // committed, and the repeat takes back this worker's own claim (see claimCompanies).
      const claimed = new Map(
        (await gate.retryUntilWritten(() => claimCompanies(db, deps.claim, requests))).map((c) => [c.id, c]),
      );
      return new Map(ids.map((id) => [id, claimed.get(id) ?? null]));
    },
  });

  const outcomes = createMicroBatcher<string, true, CompanyOutcome>({
    maxSize: WRITE_BATCH_ROWS,
    windowMs: deps.writeWindowMs,
    async runBatch(ids, metas) {
      const batch = metas.map((m) => m[0]!);
      // These results may be paid for: a database that cannot be reached is waited out, never
      // a reason to drop them (the write is conditional on 'processing', so repeating it is safe).
      const { completedJobs } = await gate.retryUntilWritten(() =>
        finishCompanies(db, deps.claim.provider, batch),
      );
      for (const o of batch) deps.onCompanyFinished?.(o.to, o.source);
      for (const { orgId, jobId } of completedJobs) {
        deps.logger.info({ org_id: orgId, job_id: jobId }, 'job completed');
        deps.onJobCompleted?.(orgId, jobId);
      }
      return new Map(ids.map((id) => [id, true as const]));
    },
  });

  function finish(
    company: ClaimedCompany,
    o: Omit<CompanyOutcome, 'orgId' | 'jobId' | 'companyId' | 'domain'>,
  ): Promise<true> {
    const claim = held.get(company.id);
    if (claim) claim.settling = true;
    return outcomes.load(company.id, {
      ...o,
      orgId: company.orgId,
      jobId: company.jobId,
      companyId: company.id,
      domain: company.domain,
    });
  }

  const failWith = (code: string, message: string) => ({
    to: 'failed' as const,
    source: null,
    businessId: null,
    firmographics: null,
    fetchedAt: null,
    error: { code, message },
    cacheWrite: false,
  });

  /**
   * Back to the queue without spending the attempt its claim counted: the failure was not the
   * company's. A business id already matched is kept, so the next attempt only enriches.
   */
  function releaseUncharged(claim: HeldClaim) {
    return gate.retryUntilWritten(() =>
      transitionCompany(db, {
        orgId: claim.orgId,
        companyId: claim.id,
        from: 'processing',
        to: 'queued',
        refundAttempt: true,
        fields: { businessId: claim.businessId },
      }),
    );
  }

  async function handleFailure(
    company: ClaimedCompany,
    claim: HeldClaim,
    err: unknown,
    delivery: number,
  ): Promise<void> {
    const log = deps.logger.child({ org_id: company.orgId, job_id: company.jobId, company_id: company.id });
    const kind = isProviderError(err) ? err.kind : 'transient';
    const code = isProviderError(err) ? err.code : 'INTERNAL';

    if (isCreditBudgetExhausted(err)) {
      // The job spent its max_credits: it pauses, and the company waits, unpaid and uncharged,
      // for the limit to be raised (or removed) and the job resumed.
      const paused = await gate.retryUntilWritten(() =>
        pauseJob(db, company.orgId, company.jobId, { code: err.code, message: err.message }),
      );
      if (paused) {
        log.warn('job paused: it reached its max_credits');
      }
      await releaseUncharged(claim);
      return;
    }

    if (kind === 'auth' || kind === 'quota') {
      // A configuration problem, the same for every company: stop the job once, fail no company.
      const paused = await gate.retryUntilWritten(() =>
        pauseJob(db, company.orgId, company.jobId, { code, message: errorMessage(err) }),
      );
      if (paused) {
        log.error({ err }, 'job paused: the provider refused the key or has no credits left');
      }
      await releaseUncharged(claim);
      return;
    }
    if (kind === 'permanent') {
      await finish(company, failWith(code, errorMessage(err)));
      return;
    }
    if (!isProviderError(err) || kind === 'rate_limited' || !err.countsAsAttempt) {
      // Not this company's failure: turned away before any call (the circuit is open), told to
      // wait by the rate limit, or a failure of our own (database, Redis, a bug). Its attempts
      // are for the provider failing on it; this one is given back.
      if (!isProviderError(err)) log.error({ err }, 'enrichment failed unexpectedly; retrying');
      await releaseUncharged(claim);
      // Backs off by deliveries, so a failure that lasts (Redis down) is not retried in a tight loop.
      const delayMs = retryPolicy.delayMs(delivery, isProviderError(err) ? err.retryAfterMs : null);
      throw new RetryTaskLater(delayMs, errorMessage(err), { cause: err });
    }
    // A transient provider failure (5xx, timeout): retry while attempts last.
    if (!retryPolicy.hasAttemptsLeft(company.attempts)) {
      log.warn({ err, attempts: company.attempts }, 'company failed after its last attempt');
      await finish(company, failWith(code, errorMessage(err)));
      return;
    }
    const delayMs = retryPolicy.delayMs(company.attempts, err.retryAfterMs);
    await gate.retryUntilWritten(() =>
      transitionCompany(db, {
        orgId: company.orgId,
        companyId: company.id,
        from: 'processing',
        to: 'queued',
        fields: {
          errorCode: code,
          errorMessage: errorMessage(err),
          businessId: claim.businessId,
        },
      }),
    );
    throw new RetryTaskLater(delayMs, `attempt ${company.attempts} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  async function enrich(company: ClaimedCompany): Promise<void> {
    if (company.cached) {
      const { businessId, firmographics, fetchedAt } = company.cached;
      await finish(company, {
        to: businessId ? 'enriched' : 'not_found',
        source: 'cache',
        businessId,
        firmographics,
        fetchedAt,
        error: businessId ? null : NO_MATCH,
        cacheWrite: false,
      });
      return;
    }
    const caller = { orgId: company.orgId, jobId: company.jobId };
    const claim = held.get(company.id);
    // Matched by an earlier attempt: only the enrichment is left to do.
    const match = company.businessId
      ? { domain: company.domain, businessId: company.businessId }
      : await batcher.match(company.domain, caller);
    if (claim?.lost) return;
    if ('error' in match) {
      await finish(
        company,
        failWith('PROVIDER_ITEM_ERROR', `The provider could not match this domain: ${match.error.message}`),
      );
      return;
    }
    if (match.businessId === null) {
      await finish(company, {
        to: 'not_found',
        source: 'provider',
        businessId: null,
        firmographics: null,
        fetchedAt: new Date(),
        error: NO_MATCH,
        cacheWrite: true,
      });
      return;
    }
    if (claim) claim.businessId = match.businessId;
    const firmographics = await batcher.enrich(match.businessId, caller);
    if (claim?.lost) return;
    if (isItemError(firmographics)) {
      await finish(
        company,
        failWith(
          'PROVIDER_ITEM_ERROR',
          `The provider could not enrich this business: ${firmographics.error.message}`,
        ),
      );
      return;
    }
    // A provider that matches locally knows a company only once enrichment answers for it.
    const found = firmographics !== null || batcher.matching === 'call';
    await finish(company, {
      to: found ? 'enriched' : 'not_found',
      source: 'provider',
      businessId: found ? match.businessId : null,
      firmographics,
      fetchedAt: new Date(),
      error: found ? null : NO_MATCH,
      cacheWrite: true,
    });
  }

  // Companies a task of this process is claiming or holding: another delivery of one of them is
  // a duplicate, and must not reach the claim, which would give it this worker's own claim again.
  const inHand = new Set<string>();

  const handle: TaskHandler<'enrich-company'> = async ({ orgId, jobId, companyId }, ctx) => {
    if (inHand.has(companyId)) return;
    inHand.add(companyId);
    deps.flow?.taskStarted();
    try {
      const company = await claims.load(companyId, { orgId, jobId, companyId });
      // Already finished, claimed by another worker, or its job is paused or cancelled: a
      // duplicate or stale delivery, which changes nothing.
      if (!company) return;
      const claim = held.add({
        id: company.id,
        orgId: company.orgId,
        jobId: company.jobId,
        domain: company.domain,
        businessId: company.businessId,
      });
      try {
        await enrich(company);
      } catch (err) {
        // Taken over elsewhere while this process was cut off or frozen: the new holder decides.
        if (!claim.lost) await handleFailure(company, claim, err, ctx.delivery);
      } finally {
        held.remove(company.id);
      }
    } finally {
      inHand.delete(companyId);
      deps.flow?.taskEnded();
    }
  };

  return Object.assign(handle, {
    async releaseHeld() {
      const claims = held.all().filter((c) => !c.lost);
      held.stop();
      // A task that finishes after this finds its company queued again and writes nothing; its
      // provider call, if not sent yet, is not sent (the company is no longer wanted).
      for (const c of claims) c.lost = true;
      const released = await Promise.all(claims.map(releaseUncharged));
      return released.filter((r) => r.moved).length;
    },
  });
}
