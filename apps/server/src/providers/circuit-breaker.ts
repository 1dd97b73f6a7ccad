/**
 * When the provider fails call after call (5xx, timeouts), stop calling it for a while instead of
 * spending every company's attempts on an outage, then let one probe call through: its success
 * closes the circuit, its failure opens it again. Companies turned away meanwhile keep their
 * attempts (the error says `countsAsAttempt: false`) and retry after the cool-down; the refusal
 * never reached the provider (`reachedProvider: false`), so the ledger does not record it.
 */
import { type EnrichmentProvider, isProviderError, ProviderError, traitsOf } from './provider';

export type CircuitBreakerOptions = {
  /** Transient failures in a row that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe call, in ms. */
  cooldownMs: number;
  now?: () => number;
  onStateChange?: (state: 'open' | 'closed', detail: { failures: number }) => void;
};

export type CircuitBreakingProvider = EnrichmentProvider & { state(): 'closed' | 'open' | 'half-open' };

export function createCircuitBreakingProvider(
  provider: EnrichmentProvider,
  opts: CircuitBreakerOptions,
): CircuitBreakingProvider {
  const now = opts.now ?? Date.now;
  let failures = 0;
  let openedAt: number | null = null;
  let probing = false;

  function admit(): void {
    if (openedAt === null) return;
    const waited = now() - openedAt;
    if (waited >= opts.cooldownMs && !probing) {
      probing = true;
      return;
    }
    throw new ProviderError(
      'transient',
      `The provider failed ${failures} calls in a row; calls are paused for ${Math.round(opts.cooldownMs / 1000)} s.`,
      {
        retryAfterMs: Math.max(opts.cooldownMs - waited, 1_000),
        countsAsAttempt: false,
        reachedProvider: false,
      },
    );
  }

  function record(ok: boolean): void {
    if (ok) {
      if (openedAt !== null) opts.onStateChange?.('closed', { failures });
      failures = 0;
      openedAt = null;
    } else {
      failures++;
      if (openedAt !== null || failures >= opts.failureThreshold) {
        if (openedAt === null) opts.onStateChange?.('open', { failures });
        openedAt = now();
      }
    }
    probing = false;
  }

  async function guarded<T>(call: () => Promise<T>): Promise<T> {
    admit();
    try {
      const result = await call();
      record(true);
      return result;
    } catch (err) {
      // Only an unwell provider trips the circuit; a bad request, an exhausted rate limit or a
      // call that was never meant for it (nothing left to send, countsAsAttempt false) does not.
      if (isProviderError(err) && !err.countsAsAttempt) probing = false;
      else if (isProviderError(err) && err.kind === 'transient') record(false);
      else {
        probing = false;
        if (isProviderError(err) && err.kind !== 'rate_limited') record(true);
      }
      throw err;
    }
  }

  return {
    ...traitsOf(provider),
    matchBusinesses: (domains, call) => guarded(() => provider.matchBusinesses(domains, call)),
    enrichFirmographics: (ids, call) => guarded(() => provider.enrichFirmographics(ids, call)),
    state: () => (openedAt === null ? 'closed' : probing ? 'half-open' : 'open'),
  };
}
