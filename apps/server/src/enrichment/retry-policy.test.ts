import { describe, expect, it } from 'vitest';
import { createRetryPolicy } from './retry-policy';

describe('retry policy', () => {
  const at = (random: number) =>
    createRetryPolicy({ maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 8000, random: () => random });

  it('doubles the delay each attempt, between half and all of it', () => {
    expect([1, 2, 3, 4].map((n) => at(0).delayMs(n))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => at(1).delayMs(n))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('never exceeds the cap', () => {
    expect(at(1).delayMs(20)).toBe(8000);
    expect(at(0).delayMs(20)).toBe(4000);
  });

  it('waits at least as long as Retry-After asks, even past the cap', () => {
    expect(at(0).delayMs(1, 30_000)).toBe(30_000);
    expect(at(1).delayMs(1, 30_000)).toBe(33_000);
    // A Retry-After shorter than the backoff does not shorten it.
    expect(at(1).delayMs(4, 100)).toBe(8000);
  });

  it('spreads retries with jitter', () => {
    const policy = createRetryPolicy({ maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 });
    const delays = new Set(Array.from({ length: 50 }, () => policy.delayMs(3)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(2000);
  });

  it('counts attempts left', () => {
    const policy = at(0);
    expect(policy.hasAttemptsLeft(4)).toBe(true);
    expect(policy.hasAttemptsLeft(5)).toBe(false);
  });
});
