/**
 * The worker's view of the provider: one company at a time in, bulk calls out, each call that
 * reached the provider recorded in the credit ledger against the jobs whose companies it carried.
 * Before a bulk-enrich call, credits are reserved per job and the batch is cut to what each job
 * may still spend (credit-budget.ts).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type CallOptions,
  type EnrichmentProvider,
  type Firmographics,
  type ItemError,
  isItemError,
  isProviderError,
  type MatchResult,
  type ProviderTraits,
} from '../providers/provider';
import type { BatchFlow } from './batch-flow';
import {
  CREDIT_RESERVATION_TTL_MS,
  type CreditBudget,
  CreditBudgetExhausted,
  CreditBudgetHeld,
} from './credit-budget';
import { createMicroBatcher } from './micro-batcher';

export type CallerRef = { orgId: string; jobId: string };

export type ProviderCallReport = {
  endpoint: 'match' | 'bulk_enrich';
  status: number | null;
  durationMs: number;
  correlationId: string | null;
  perJob: Array<CallerRef & { items: number; credits: number }>;
  /** Credit reservations the call's ledger row settles (deletes). */
  reservationIds: string[];
  /** Names this call in the ledger, so a write repeated after a lost connection counts it once. */
  callId: string;
};

export type ProviderBatcher = {
  /** The provider's own (provider.ts): with `local`, a business enrichment answers nothing for was not found. */
  readonly matching: 'call' | 'local';
  /** The fields its provider can fill (provider.ts): a waterfall asks it only while one is empty. */
  readonly fills: ProviderTraits['fills'];
  match(domain: string, caller: CallerRef): Promise<MatchResult>;
  /** Rejects with CreditBudgetExhausted when the company's job has no credit left to spend. */
  enrich(businessId: string, caller: CallerRef): Promise<Firmographics | null | ItemError>;
};

// How often an item whose job's credits are all held by calls in flight asks again, and for how
// long in all: held credits settle when those calls are recorded, or lapse with their reservation.
const HELD_RETRY_MS = 100;
const HELD_MAX_WAIT_MS = 2 * CREDIT_RESERVATION_TTL_MS;

/**
 * Items per job in one call; `payer(i)` is the job item i is charged to and `billed(i)` whether it
 * cost a credit. A key several jobs asked for at once is one item of the call.
 */
function perJob(
  metas: CallerRef[][],
  payer: (i: number) => string,
  billed: (i: number) => boolean,
): ProviderCallReport['perJob'] {
  const byJob = new Map<string, CallerRef & { items: number; credits: number }>();
  metas.forEach((callers, i) => {
    for (const c of new Map(callers.map((x) => [x.jobId, x])).values()) {
      const entry = byJob.get(c.jobId) ?? { ...c, items: 0, credits: 0 };
      entry.items++;
      if (billed(i) && c.jobId === payer(i)) entry.credits++;
      byJob.set(c.jobId, entry);
    }
  });
  return [...byJob.values()];
}

/** What a bulk-enrich batch may send once credits are reserved. */
type BudgetPlan = {
  /** Indexes of the items to send, in order. */
  send: number[];
  /** Job charged for item i (by index in the batch). */
  payer: Map<number, string>;
  /** Items not sent, with why. */
  cut: Map<number, Error>;
  reservationIds: string[];
};

/**
 * Reserves, per job, one credit per item it asked for (the most the call can bill), then gives
 * each item to the first of its askers with a credit left. An item nobody can pay for is cut: its
 * jobs are out of credits (CreditBudgetExhausted), or their credits are held by calls in flight
 * (CreditBudgetHeld: ask again). A job asking for a key another job pays for reserves a credit it
 * then does not use; the ledger row gives it back.
 */
async function planBudget(budget: CreditBudget, metas: CallerRef[][]): Promise<BudgetPlan> {
  const wanted = new Map<string, CallerRef & { credits: number }>();
  for (const callers of metas) {
    for (const c of new Map(callers.map((x) => [x.jobId, x])).values()) {
      const w = wanted.get(c.jobId) ?? { orgId: c.orgId, jobId: c.jobId, credits: 0 };
      w.credits++;
      wanted.set(c.jobId, w);
    }
  }
  const grants = await budget.reserve([...wanted.values()]);
  const left = new Map(grants.map((g) => [g.jobId, g.granted]));
  const held = new Map(grants.map((g) => [g.jobId, g.heldByOthers]));
  const plan: BudgetPlan = {
    send: [],
    payer: new Map(),
    cut: new Map(),
    reservationIds: grants.flatMap((g) => (g.reservationId ? [g.reservationId] : [])),
  };
  metas.forEach((callers, i) => {
    const payer = callers.find((c) => (left.get(c.jobId) ?? 0) > 0);
    if (payer) {
      left.set(payer.jobId, left.get(payer.jobId)! - 1);
      plan.payer.set(i, payer.jobId);
      plan.send.push(i);
      return;
    }
    const waiting = callers.find((c) => (held.get(c.jobId) ?? 0) > 0);
    plan.cut.set(
      i,
      waiting ? new CreditBudgetHeld(waiting.jobId) : new CreditBudgetExhausted(callers[0]!.jobId),
    );
  });
  return plan;
}

export function createProviderBatcher(
  provider: EnrichmentProvider,
  opts: {
    windowMs: number;
    /** With a flow: how long a partial batch may wait for companies still on their way. */
    maxWaitMs?: number;
    flow?: BatchFlow;
    /** True while calls wait for the provider's rate limit: a partial batch then keeps filling. */
    rateLimited?: () => boolean;
    onCall?: (report: ProviderCallReport) => Promise<void>;
    /**
     * Told of each call right before it leaves, with the most each job's part may bill (the call
     * waits for it): the ledger opens the call, so a worker killed mid-call leaves it counted.
     */
    onSend?: (
      report: Omit<ProviderCallReport, 'status' | 'durationMs' | 'correlationId'>,
    ) => Promise<boolean | undefined>;
    /** An opened call did not reach the provider after all: its open rows are removed. */
    onUnsent?: (callId: string) => Promise<void>;
    /** Reserves credits before each bulk-enrich call; without it, batches are never cut. */
    budget?: CreditBudget;
    /**
     * Organizations do not share lookups (ENRICHMENT_CACHE_SCOPE=org): two organizations asking
     * for one domain at once are two items, in two calls, each billed to its own organization,
     * as if the other had not asked. Default: shared (one item).
     */
    separateOrganizations?: boolean;
  },
): ProviderBatcher {
  const flowing = {
    moreComing: opts.flow?.othersMoving,
    maxWaitMs: opts.maxWaitMs,
    holdWhile: opts.rateLimited,
    onWaitingChange: opts.flow?.waiting,
  };
  // A free provider's calls cost nothing: nothing to reserve, nothing billed.
  const billing = provider.creditsPerRecord > 0;
  const budget = billing ? opts.budget : undefined;
  const batchKey = (key: string, caller: CallerRef) =>
    opts.separateOrganizations ? `${caller.orgId}\u0000${key}` : key;
  const providerKey = (key: string) => key.slice(key.indexOf('\u0000') + 1);

  /**
   * Runs a batch as calls in which no provider key repeats: one call, unless organizations kept
   * apart asked for the same key (their second asks go in a second call). A call that fails
   * fails its own keys only: what another call of the batch was answered (and billed) stands.
   */
  async function inCalls<V>(
    keys: string[],
    metas: CallerRef[][],
    call: (providerKeys: string[], metas: CallerRef[][]) => Promise<Map<string, V | Error>>,
  ): Promise<Map<string, V | Error>> {
    const calls: number[][] = [];
    const seen = new Map<string, number>();
    keys.forEach((key, i) => {
      const n = seen.get(providerKey(key)) ?? 0;
      seen.set(providerKey(key), n + 1);
      if (n === calls.length) calls.push([]);
      calls[n]!.push(i);
    });
    if (calls.length === 1) return rekey(keys, await call(keys.map(providerKey), metas));
    const out = new Map<string, V | Error>();
    for (const indexes of calls) {
      const subset = indexes.map((i) => keys[i]!);
      try {
        const answers = rekey(
          subset,
          await call(
            subset.map(providerKey),
            indexes.map((i) => metas[i]!),
          ),
        );
        for (const [k, v] of answers) out.set(k, v);
      } catch (err) {
        for (const k of subset) out.set(k, err instanceof Error ? err : new Error(String(err)));
      }
    }
    return out;
  }
  /** Answers keyed by provider key, back under the batch's keys. */
  function rekey<V>(keys: string[], byProviderKey: Map<string, V>): Map<string, V> {
    const out = new Map<string, V>();
    for (const key of keys) {
      const pk = providerKey(key);
      if (byProviderKey.has(pk)) out.set(key, byProviderKey.get(pk)!);
    }
    return out;
  }

  /**
   * Makes one call and records it in the ledger, settling its reservations, if the request
   * reached the provider: a call the circuit breaker turned away, that could not connect, or that
   * never left because our own rate limiter failed was neither counted nor billed by the provider,
   * so it gets no ledger row, and its reserved credits go back. Right before it leaves, the call
   * is opened in the ledger (onSend) with the items really sent.
   */
  async function timed<T>(
    endpoint: ProviderCallReport['endpoint'],
    keys: readonly string[],
    allMetas: CallerRef[][],
    reservationIds: string[],
    allPayer: (i: number) => string,
    call: (options: CallOptions) => Promise<T>,
    allBilled: (result: T, i: number) => boolean,
  ): Promise<T> {
    let started = performance.now();
    const callId = randomUUID();
    // Indexes (into keys) of the items sent; all of them unless the call said otherwise.
    let sentIdx = keys.map((_, i) => i);
    let metas = allMetas;
    let opened = false;
    const payer = (k: number) => allPayer(sentIdx[k]!);
    const billed = (result: T, k: number) => allBilled(result, sentIdx[k]!);
    const beforeSend = async (sentKeys: readonly string[]) => {
      const sent = new Set(sentKeys);
      sentIdx = keys.flatMap((key, i) => (sent.has(key) ? [i] : []));
      metas = sentIdx.map((i) => allMetas[i]!);
      if (opts.onSend) {
        const open = await opts.onSend({
          endpoint,
          callId,
          reservationIds,
          // The most each job may be billed: every item it pays for, on a billed endpoint.
          perJob: perJob(metas, payer, () => billing && endpoint === 'bulk_enrich'),
        });
        // A reservation lapsed while the call waited (worker frozen, database away): its credits
        // may be another call's now. The call does not leave; its items reserve again.
        if (open === false) throw new CreditBudgetHeld(payer(0));
        opened = true;
        budget?.settled(reservationIds);
      }
      started = performance.now();
    };
    const record = async (
      report: Omit<ProviderCallReport, 'endpoint' | 'durationMs' | 'reservationIds' | 'callId'>,
    ) => {
      if (!opts.onCall) {
        await budget?.release(reservationIds);
        return;
      }
      try {
        await opts.onCall({
          endpoint,
          durationMs: performance.now() - started,
          reservationIds,
          callId,
          ...report,
        });
      } finally {
        budget?.settled(reservationIds);
      }
    };
    let result: T;
    try {
      result = await call({ beforeSend });
    } catch (err) {
      if (isProviderError(err) && err.reachedProvider) {
        await record({
          status: err.status,
          correlationId: err.correlationId,
          // Sent but never answered (a timeout, or a worker frozen past it): the provider may
          // have billed it, so it keeps the most it may bill, as a call left open does. An
          // answered error (4xx, 5xx) billed nothing.
          perJob: perJob(metas, payer, () => billing && err.status === null && endpoint === 'bulk_enrich'),
        });
      } else {
        if (opened) await opts.onUnsent?.(callId);
        await budget?.release(reservationIds);
      }
      throw err;
    }
    await record({
      status: 200,
      correlationId: null,
      perJob: perJob(metas, payer, (i) => billed(result, i)),
    });
    return result;
  }

  const matcher = createMicroBatcher<string, MatchResult, CallerRef>({
    maxSize: provider.maxBatchSize,
    windowMs: opts.windowMs,
    ...flowing,
    runBatch: (keys, batchMetas) =>
      inCalls<MatchResult>(keys, batchMetas, async (domains, metas) => {
        // A local match reaches no provider API: no call to count, nothing in the ledger.
        if (provider.matching === 'local') {
          const results = await provider.matchBusinesses(domains);
          return new Map(results.map((r, i) => [domains[i]!, r]));
        }
        // Matching is not billed as a record; firmographics are (see docs/performance.md).
        const results = await timed(
          'match',
          domains,
          metas,
          [],
          (i) => metas[i]![0]!.jobId,
          (call) => provider.matchBusinesses(domains, call),
          () => false,
        );
        return new Map(results.map((r, i) => [domains[i]!, r]));
      }),
  });
  const enricher = createMicroBatcher<string, Firmographics | null | ItemError, CallerRef>({
    maxSize: provider.maxBatchSize,
    windowMs: opts.windowMs,
    ...flowing,
    runBatch: (keys, batchMetas) => inCalls(keys, batchMetas, enrichCall),
  });
  async function enrichCall(
    ids: string[],
    metas: CallerRef[][],
  ): Promise<Map<string, Firmographics | null | ItemError | Error>> {
    const plan: BudgetPlan = budget
      ? await planBudget(budget, metas)
      : {
          send: ids.map((_, i) => i),
          payer: new Map(metas.map((callers, i) => [i, callers[0]!.jobId])),
          cut: new Map(),
          reservationIds: [],
        };
    const results = new Map<string, Firmographics | null | ItemError | Error>();
    for (const [i, err] of plan.cut) results.set(ids[i]!, err);
    if (plan.send.length === 0) {
      await budget?.release(plan.reservationIds);
      return results;
    }
    const sent = plan.send.map((i) => ids[i]!);
    const byId = await timed(
      'bulk_enrich',
      sent,
      plan.send.map((i) => metas[i]!),
      plan.reservationIds,
      (k) => plan.payer.get(plan.send[k]!)!,
      (call) => provider.enrichFirmographics(sent, call),
      // Billed: a row returned with data (not an empty row, not a failed one), by a provider that bills.
      (result, k) => {
        const row = result.get(sent[k]!) ?? null;
        return billing && row !== null && !isItemError(row);
      },
    );
    // A matched business the provider returns no row for is known to exist but has no data.
    for (const id of sent) results.set(id, byId.get(id) ?? null);
    return results;
  }
  opts.flow?.onIdle(() => {
    matcher.flush();
    enricher.flush();
  });
  return {
    matching: provider.matching,
    fills: provider.fills,
    match: (d, c) => matcher.load(batchKey(d, c), c),
    async enrich(id, caller) {
      const started = Date.now();
      for (;;) {
        try {
          return await enricher.load(batchKey(id, caller), caller);
        } catch (err) {
          if (!(err instanceof CreditBudgetHeld)) throw err;
          // Held credits settle or lapse within a reservation's life; past that, call it spent.
          if (Date.now() - started > HELD_MAX_WAIT_MS) throw new CreditBudgetExhausted(caller.jobId);
          await delay(HELD_RETRY_MS);
        }
      }
    },
  };
}
