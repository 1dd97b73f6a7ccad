/**
 * The worker's view of the provider: one company at a time in, bulk calls out, each call
 * recorded in the credit ledger against the jobs whose companies it carried.
 */
import type { EnrichmentProvider, Firmographics, MatchResult } from '../providers/provider';
import { isProviderError } from '../providers/provider';
import type { BatchFlow } from './batch-flow';
import { createMicroBatcher } from './micro-batcher';

export type CallerRef = { orgId: string; jobId: string };

export type ProviderCallReport = {
  endpoint: 'match' | 'bulk_enrich';
  status: number | null;
  durationMs: number;
  correlationId: string | null;
  perJob: Array<CallerRef & { items: number; credits: number }>;
};

export type ProviderBatcher = {
  match(domain: string, caller: CallerRef): Promise<MatchResult>;
  enrich(businessId: string, caller: CallerRef): Promise<Firmographics | null>;
};

/** Items per job in one call; `billed(i)` says whether item i cost a credit. */
function perJob(metas: CallerRef[][], billed: (i: number) => boolean): ProviderCallReport['perJob'] {
  const byJob = new Map<string, CallerRef & { items: number; credits: number }>();
  metas.forEach((callers, i) => {
    // A key several jobs asked for at once is one item of the call: charged to the first asker.
    for (const c of new Map(callers.map((x) => [x.jobId, x])).values()) {
      const entry = byJob.get(c.jobId) ?? { ...c, items: 0, credits: 0 };
      entry.items++;
      if (billed(i) && c.jobId === callers[0]!.jobId) entry.credits++;
      byJob.set(c.jobId, entry);
    }
  });
  return [...byJob.values()];
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
  },
): ProviderBatcher {
  const flowing = {
    moreComing: opts.flow?.othersMoving,
    maxWaitMs: opts.maxWaitMs,
    holdWhile: opts.rateLimited,
    onWaitingChange: opts.flow?.waiting,
  };
  async function timed<T>(
    endpoint: ProviderCallReport['endpoint'],
    metas: CallerRef[][],
    call: () => Promise<T>,
    billed: (result: T, i: number) => boolean,
  ): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      await opts.onCall?.({
        endpoint,
        status: 200,
        durationMs: performance.now() - started,
        correlationId: null,
        perJob: perJob(metas, (i) => billed(result, i)),
      });
      return result;
    } catch (err) {
      await opts.onCall?.({
        endpoint,
        status: isProviderError(err) ? err.status : null,
        durationMs: performance.now() - started,
        correlationId: isProviderError(err) ? err.correlationId : null,
        perJob: perJob(metas, () => false),
      });
      throw err;
    }
  }

  const matcher = createMicroBatcher<string, MatchResult, CallerRef>({
    maxSize: provider.maxBatchSize,
    windowMs: opts.windowMs,
    ...flowing,
    async runBatch(domains, metas) {
      // Matching is not billed as a record; firmographics are (see docs/performance.md).
      const results = await timed(
        'match',
        metas,
        () => provider.matchBusinesses(domains),
        () => false,
      );
      return new Map(results.map((r, i) => [domains[i]!, r]));
    },
  });
  const enricher = createMicroBatcher<string, Firmographics | null, CallerRef>({
    maxSize: provider.maxBatchSize,
    windowMs: opts.windowMs,
    ...flowing,
    async runBatch(ids, metas) {
      const byId = await timed(
        'bulk_enrich',
        metas,
        () => provider.enrichFirmographics(ids),
        (result, i) => (result.get(ids[i]!) ?? null) !== null,
      );
      // A matched business the provider returns no row for is known to exist but has no data.
      return new Map(ids.map((id) => [id, byId.get(id) ?? null]));
    },
  });
  opts.flow?.onIdle(() => {
    matcher.flush();
    enricher.flush();
  });
  return { match: (d, c) => matcher.load(d, c), enrich: (id, c) => enricher.load(id, c) };
}
