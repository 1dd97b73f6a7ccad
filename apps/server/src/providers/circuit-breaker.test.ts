import { describe, expect, it } from 'vitest';
import { createCircuitBreakingProvider } from './circuit-breaker';
import { type EnrichmentProvider, FIRMOGRAPHIC_FIELDS, ProviderError } from './provider';

function flakyProvider() {
  const state = { failing: true, calls: 0 };
  const provider: EnrichmentProvider = {
    name: 'sandbox',
    maxBatchSize: 50,
    matching: 'call',
    creditsPerRecord: 1,
    fills: FIRMOGRAPHIC_FIELDS,
    async matchBusinesses(domains) {
      state.calls++;
      if (state.failing) throw new ProviderError('transient', 'Explorium answered 503', { status: 503 });
      return domains.map((domain) => ({ domain, businessId: null }));
    },
    async enrichFirmographics() {
      state.calls++;
      return new Map();
    },
  };
  return { provider, state };
}

describe('circuit breaker', () => {
  it('stops calling after failures in a row, probes after the cool-down, and closes on success', async () => {
    let clock = 0;
    const changes: string[] = [];
    const { provider, state } = flakyProvider();
    const breaker = createCircuitBreakingProvider(provider, {
      failureThreshold: 3,
      cooldownMs: 10_000,
      now: () => clock,
      onStateChange: (s) => changes.push(s),
    });
    for (let i = 0; i < 3; i++)
      await expect(breaker.matchBusinesses(['a.com'])).rejects.toMatchObject({ status: 503 });
    expect(breaker.state()).toBe('open');

    // Open: turned away without a call, and without spending the company's attempt.
    clock = 4_000;
    const turnedAway = await breaker.matchBusinesses(['a.com']).catch((e: unknown) => e);
    expect(turnedAway).toMatchObject({
      kind: 'transient',
      countsAsAttempt: false,
      reachedProvider: false,
      retryAfterMs: 6_000,
    });
    expect(state.calls).toBe(3);

    // After the cool-down one probe goes through; it fails, so the circuit opens again.
    clock = 10_000;
    await expect(breaker.matchBusinesses(['a.com'])).rejects.toMatchObject({ status: 503 });
    expect(state.calls).toBe(4);
    await expect(breaker.matchBusinesses(['a.com'])).rejects.toMatchObject({ countsAsAttempt: false });

    // The provider recovers: the next probe succeeds and closes the circuit.
    state.failing = false;
    clock = 20_000;
    await expect(breaker.matchBusinesses(['a.com'])).resolves.toHaveLength(1);
    expect(breaker.state()).toBe('closed');
    await expect(breaker.matchBusinesses(['b.com'])).resolves.toHaveLength(1);
    expect(changes).toEqual(['open', 'closed']);
  });

  it('is not tripped by errors that say nothing about the provider being down', async () => {
    let n = 0;
    const provider: EnrichmentProvider = {
      name: 'sandbox',
      maxBatchSize: 50,
      matching: 'call',
      creditsPerRecord: 1,
      fills: FIRMOGRAPHIC_FIELDS,
      async matchBusinesses() {
        n++;
        throw new ProviderError(n % 2 ? 'permanent' : 'rate_limited', 'no', { status: n % 2 ? 422 : 429 });
      },
      async enrichFirmographics() {
        return new Map();
      },
    };
    const breaker = createCircuitBreakingProvider(provider, { failureThreshold: 2, cooldownMs: 1_000 });
    for (let i = 0; i < 6; i++) await breaker.matchBusinesses(['a.com']).catch(() => undefined);
    expect(n).toBe(6);
    expect(breaker.state()).toBe('closed');
  });
});
