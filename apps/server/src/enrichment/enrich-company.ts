/**
 * The task handler: enriches one company. Claim it (queued → processing), then walk its job's
 * provider waterfall: each provider still able to fill an empty field gives a fresh cached result
 * or matches the domain and fetches firmographics; what it gathered is saved before the next is
 * asked (so nothing is paid for twice), and the outcome is written with the job's counters.
 * Claims, outcomes and provider calls all go through micro-batchers, so many companies in flight
 * share one statement and one bulk call while each keeps its own status, retries and errors.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { pauseJob } from '../jobs/jobs.repository';
import { isItemError, isProviderError, type ProviderName } from '../providers/provider';
import { RetryTaskLater, type TaskHandler } from '../queue/task-queue';
import type { BatchFlow } from './batch-flow';
import {
  type CacheEntry,
  type ClaimedCompany,
  type ClaimOptions,
  type CompanyCheckpoint,
  type CompanyOutcome,
  checkpointCompanies,
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
import { applyAnswer, type StepAnswer, type WaterfallState, wantsProvider } from './waterfall';

export type EnrichCompanyDeps = {
  db: Db;
  /** One batcher per provider this worker can ask. */
  batchers: ReadonlyMap<ProviderName, ProviderBatcher>;
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
  /**
   * Delivers the next step of companies handed on to the next provider of their waterfall (a task
   * each, `id` unique to the step). A step is a task of its own, run after the earlier steps'
   * waiting tasks, so a company waiting for a slow later provider does not hold a slot the earlier
   * providers' batches are filled from.
   */
  handOn: (
    tasks: { id: string; step: number; orgId: string; jobId: string; companyId: string }[],
  ) => Promise<void>;
  /** Called once when a company's outcome completes its job. */
  onJobCompleted?: (orgId: string, jobId: string) => void;
  /** Called for every company outcome written (metrics). */
  onCompanyFinished?: (outcome: CompanyOutcome['to'], source: 'provider' | 'cache' | null) => void;
};

/** Why a not-found company has no firmographics, the same from the provider or the cache. */
const NO_MATCH = { code: 'NO_MATCH', message: 'The provider has no company for this domain.' };

/** A job names a provider this worker has no key for: a configuration problem, not the company's. */
class ProviderUnavailable extends Error {
  readonly code = 'PROVIDER_UNAVAILABLE';
  constructor(provider: string) {
    super(
      `This worker cannot ask "${provider}", which the job's providers name: give every worker the same ` +
        'provider keys and ENRICHMENT_PROVIDERS as the API, then resume the job.',
    );
  }
}

// Rows per claim or outcome statement: a few provider batches' worth.
const WRITE_BATCH_ROWS = 200;

/** A provider's step that ended without an answer: nothing to cache, the error kept. */
const failed = (provider: ProviderName, code: string, message: string) => ({
  answer: { kind: 'failed', provider, error: { code, message } } as const,
  cache: null,
});

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export type EnrichCompanyHandler = TaskHandler<'enrich-company'> & {
  /** Sends every company this process still holds back to the queue (shutdown): returns how many. */
  releaseHeld(): Promise<number>;
};

export function createEnrichCompany(deps: EnrichCompanyDeps): EnrichCompanyHandler {
  const { db, retryPolicy, held, gate } = deps;

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
      const { completedJobs } = await gate.retryUntilWritten(() => finishCompanies(db, batch));
      for (const o of batch) {
        deps.onCompanyFinished?.(
          o.to,
          o.to === 'failed' ? null : o.state.allFromCache ? 'cache' : 'provider',
        );
      }
      for (const { orgId, jobId } of completedJobs) {
        deps.logger.info({ org_id: orgId, job_id: jobId }, 'job completed');
        deps.onJobCompleted?.(orgId, jobId);
      }
      return new Map(ids.map((id) => [id, true as const]));
    },
  });

  const checkpoints = createMicroBatcher<string, boolean, CompanyCheckpoint>({
    maxSize: WRITE_BATCH_ROWS,
    windowMs: deps.writeWindowMs,
    async runBatch(ids, metas) {
      const batch = metas.map((m) => m[0]!);
      // Paid for like an outcome: waited out, never dropped; conditional on this worker's claim.
      const kept = await gate.retryUntilWritten(() =>
        checkpointCompanies(db, { token: deps.claim.token }, batch),
      );
      return new Map(ids.map((id) => [id, kept.has(id)]));
    },
  });

  // Sent once the task that handed them on has let them go (see `handle`): a task of this process
  // for a company it still has in hand would be taken for a duplicate delivery and dropped.
  const handOns = createMicroBatcher<string, true, CompanyCheckpoint>({
    maxSize: WRITE_BATCH_ROWS,
    windowMs: deps.writeWindowMs,
    async runBatch(ids, metas) {
      const next = metas.map((m) => m[0]!);
      // Not delivered (the queue is away): the sweep finds them, as any claim let go.
      await deps
        .handOn(
          next.map((c) => ({
            id: `${c.companyId}-step${c.nextStep}`,
            step: c.nextStep,
            orgId: c.orgId,
            jobId: c.jobId,
            companyId: c.companyId,
          })),
        )
        .catch((err: unknown) =>
          deps.logger.warn({ err, companies: next.length }, 'could not hand companies on; the sweep will'),
        );
      return new Map(ids.map((id) => [id, true as const]));
    },
  });

  const progressOf = (company: ClaimedCompany, state: WaterfallState, cache: CacheEntry | null) => ({
    orgId: company.orgId,
    jobId: company.jobId,
    companyId: company.id,
    domain: company.domain,
    state,
    cache,
  });

  /** The end of the waterfall: enriched when some provider found it, else failed or not found. */
  function finish(company: ClaimedCompany, state: WaterfallState, cache: CacheEntry | null): Promise<true> {
    const claim = held.get(company.id);
    if (claim) claim.settling = true;
    const outcome: CompanyOutcome = {
      ...progressOf(company, state, cache),
      to: state.found ? 'enriched' : state.error ? 'failed' : 'not_found',
      error: state.found ? null : (state.error ?? NO_MATCH),
    };
    return outcomes.load(company.id, outcome);
  }

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
        fields: { stepBusinessId: claim.businessId },
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

    if (err instanceof ProviderUnavailable) {
      const paused = await gate.retryUntilWritten(() =>
        pauseJob(db, company.orgId, company.jobId, { code: err.code, message: err.message }),
      );
      if (paused) log.error(err.message);
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
    // A transient provider failure (5xx, timeout) with attempts left (see givesUp): retry.
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
          stepBusinessId: claim.businessId,
        },
      }),
    );
    throw new RetryTaskLater(delayMs, `attempt ${company.attempts} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  /**
   * Whether a provider's failure ends its step (the waterfall moves on, or the company fails):
   * a permanent one, or a transient one on the step's last attempt. Anything else is for
   * handleFailure (a pause, a release, a retry).
   */
  function givesUp(err: unknown, attempts: number): err is Error {
    if (!isProviderError(err) || !err.countsAsAttempt) return false;
    return err.kind === 'permanent' || (err.kind === 'transient' && !retryPolicy.hasAttemptsLeft(attempts));
  }

  /** The first step from `from` whose provider can still fill an empty field; null when none. */
  function nextStep(company: ClaimedCompany, from: number, state: WaterfallState): number | null {
    for (let step = from; step < company.providers.length; step++) {
      const batcher = deps.batchers.get(company.providers[step]!);
      // One this worker cannot ask is not skipped: the job pauses there (ProviderUnavailable).
      if (!batcher || wantsProvider(state, batcher.fills)) return step;
    }
    return null;
  }

  /** One provider's answer for the company: from the cache, or asked. Null when the claim was lost. */
  async function ask(
    company: ClaimedCompany,
    provider: ProviderName,
    claim: HeldClaim,
  ): Promise<{ answer: StepAnswer; cache: CacheEntry | null } | null> {
    const cached = company.cached.get(provider);
    if (cached) {
      const answer: StepAnswer = cached.businessId
        ? { kind: 'found', provider, source: 'cache', ...cached, businessId: cached.businessId }
        : { kind: 'not_found', provider, source: 'cache', fetchedAt: cached.fetchedAt };
      return { answer, cache: null };
    }
    const batcher = deps.batchers.get(provider);
    if (!batcher) throw new ProviderUnavailable(provider);
    const caller = { orgId: company.orgId, jobId: company.jobId };
    // Matched by an earlier attempt of this step: only the enrichment is left to do.
    const match = company.stepBusinessId
      ? { domain: company.domain, businessId: company.stepBusinessId }
      : await batcher.match(company.domain, caller);
    if (claim.lost) return null;
    if ('error' in match) {
      return failed(
        provider,
        'PROVIDER_ITEM_ERROR',
        `${provider} could not match this domain: ${match.error.message}`,
      );
    }
    const fetchedAt = new Date();
    const notFound = {
      answer: { kind: 'not_found', provider, source: 'provider', fetchedAt } as const,
      cache: { provider, businessId: null, firmographics: null, fetchedAt },
    };
    if (match.businessId === null) return notFound;
    claim.businessId = match.businessId;
    const firmographics = await batcher.enrich(match.businessId, caller);
    if (claim.lost) return null;
    if (isItemError(firmographics)) {
      return failed(
        provider,
        'PROVIDER_ITEM_ERROR',
        `${provider} could not enrich this business: ${firmographics.error.message}`,
      );
    }
    // A provider that matches locally knows a company only once enrichment answers for it.
    if (firmographics === null && batcher.matching === 'local') return notFound;
    return {
      answer: {
        kind: 'found',
        provider,
        source: 'provider',
        businessId: match.businessId,
        firmographics,
        fetchedAt,
      },
      cache: { provider, businessId: match.businessId, firmographics, fetchedAt },
    };
  }

  /**
   * One step of the company's waterfall; then the outcome, or the company saved for the next
   * provider, which is returned for the caller to hand on once it has let the company go.
   */
  async function enrich(company: ClaimedCompany, claim: HeldClaim): Promise<CompanyCheckpoint | null> {
    const step = nextStep(company, company.step, company.state);
    if (step === null) {
      // Nothing left to ask (a waterfall whose later providers have nothing to fill).
      await finish(company, company.state, null);
      return null;
    }
    const provider = company.providers[step]!;
    let asked: Awaited<ReturnType<typeof ask>>;
    try {
      asked = await ask(company, provider, claim);
    } catch (err) {
      if (!givesUp(err, company.attempts)) throw err;
      deps.logger.warn(
        { err, org_id: company.orgId, job_id: company.jobId, company_id: company.id, provider },
        `${provider} gave up on the company (${company.attempts} attempts)`,
      );
      asked = failed(provider, isProviderError(err) ? err.code : 'INTERNAL', errorMessage(err));
    }
    if (!asked || claim.lost) return null;
    const state = applyAnswer(company.state, asked.answer);
    const next = nextStep(company, step + 1, state);
    if (next === null) {
      await finish(company, state, asked.cache);
      return null;
    }
    // Saved before the next provider is asked: whoever asks it finds what this one gave.
    claim.settling = true;
    const checkpoint = { ...progressOf(company, state, asked.cache), nextStep: next };
    if (await checkpoints.load(company.id, checkpoint)) return checkpoint;
    claim.lost = true;
    return null;
  }

  // Companies a task of this process is claiming or holding: another delivery of one of them is
  // a duplicate, and must not reach the claim, which would give it this worker's own claim again.
  const inHand = new Set<string>();

  const handle: TaskHandler<'enrich-company'> = async ({ orgId, jobId, companyId }, ctx) => {
    if (inHand.has(companyId)) return;
    inHand.add(companyId);
    deps.flow?.taskStarted();
    let handedOn: CompanyCheckpoint | null = null;
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
        businessId: company.stepBusinessId,
      });
      try {
        handedOn = await enrich(company, claim);
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
    // Only now: this task no longer has the company in hand, so the next step's task is not
    // taken for a duplicate of it.
    if (handedOn) await handOns.load(companyId, handedOn);
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
