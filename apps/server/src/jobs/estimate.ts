/**
 * What a job will cost before it runs: from its unique domains, how many the enrichment cache
 * already answers, the provider's batch size and its rate limit. Upper bounds: every uncached
 * domain is assumed to match (a miss costs no firmographics call and no credit).
 */
export type RateLimitSetting = { perMinute: number; unit: 'request' | 'record' } | null;

export type JobEstimate = { cacheHits: number; providerCalls: number; credits: number; seconds: number };

/** One provider's share of a waterfall's estimate (jobs.estimate_providers). */
export type ProviderEstimate = { provider: string; providerCalls: number; credits: number; seconds: number };

// Without a rate limit, the provider's latency bounds a batch; about a second a call is typical.
const UNLIMITED_SECONDS_PER_CALL = 1;

export function estimateJob(opts: {
  uniqueDomains: number;
  cacheHits: number;
  batchSize: number;
  /** Calls a batch costs: 2 (match, then enrich), or 1 where matching is local (provider.ts). */
  callsPerBatch: number;
  /** Credits a record returned with data costs (0: a free provider). */
  creditsPerRecord: number;
  rateLimit: RateLimitSetting;
  /** Batches a worker fleet can have in flight at once (without a rate limit). */
  parallelBatches: number;
}): JobEstimate {
  const uncached = Math.max(0, opts.uniqueDomains - opts.cacheHits);
  const batches = Math.ceil(uncached / opts.batchSize);
  const providerCalls = batches * opts.callsPerBatch;
  let seconds: number;
  if (opts.rateLimit === null) {
    seconds =
      Math.ceil(batches / Math.max(1, opts.parallelBatches)) *
      opts.callsPerBatch *
      UNLIMITED_SECONDS_PER_CALL;
  } else {
    const units = opts.rateLimit.unit === 'request' ? providerCalls : uncached * opts.callsPerBatch;
    seconds = Math.ceil((units / opts.rateLimit.perMinute) * 60);
  }
  return { cacheHits: opts.cacheHits, providerCalls, credits: uncached * opts.creditsPerRecord, seconds };
}

/**
 * A waterfall's estimate: each provider's, as if it were asked for every company its own cache does
 * not answer (a later provider is asked only for companies with fields still empty, so this is an
 * upper bound), and their sums. Cache hits are the first provider's; seconds add up because a
 * company waits for each provider in turn.
 */
export function estimateWaterfall(
  steps: readonly (Omit<Parameters<typeof estimateJob>[0], 'uniqueDomains'> & { provider: string })[],
  uniqueDomains: number,
): JobEstimate & { providers: ProviderEstimate[] } {
  const providers = steps.map(({ provider, ...opts }) => {
    const e = estimateJob({ ...opts, uniqueDomains });
    return {
      provider,
      providerCalls: e.providerCalls,
      credits: e.credits,
      seconds: e.seconds,
      cacheHits: e.cacheHits,
    };
  });
  return {
    cacheHits: providers[0]?.cacheHits ?? 0,
    providerCalls: providers.reduce((n, p) => n + p.providerCalls, 0),
    credits: providers.reduce((n, p) => n + p.credits, 0),
    seconds: providers.reduce((n, p) => n + p.seconds, 0),
    providers: providers.map(({ cacheHits: _hits, ...p }) => p),
  };
}
