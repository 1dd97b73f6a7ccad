/** What `X-RateLimit-Remaining: 0` costs, under both readings of `X-RateLimit-Reset`. */
import { describe, expect, it } from 'vitest';
import { exhaustedWindowPauseMs } from './exhausted-window';

const NOW = 1_800_000_000_000;
// 196 a minute: one unit every ~306 ms, a 50-record call every ~15.3 s.
const RECORDS = { perMinute: 196, unit: 'record' as const };
const REQUESTS = { perMinute: 196, unit: 'request' as const };
const UNIT_MS = 60_000 / 196;

const call = (remaining: number, resetAtMs: number, items = 50, durationMs = 150) => ({
  items,
  durationMs,
  rateLimit: { remaining, resetAtMs },
});

describe('exhaustedWindowPauseMs', () => {
  it('does not pause while the window has room, or without headers', () => {
    expect(exhaustedWindowPauseMs(call(1, NOW + 60_000), RECORDS, NOW)).toBe(0);
    expect(exhaustedWindowPauseMs({ items: 50, durationMs: 150, rateLimit: null }, RECORDS, NOW)).toBe(0);
  });

  it('waits one pacing interval, not a minute, when the reset is now + 60 s', () => {
    const pause = exhaustedWindowPauseMs(call(0, NOW + 60_000), RECORDS, NOW);
    // From when the call was sent: the interval less the 150 ms it took.
    expect(pause).toBeCloseTo(50 * UNIT_MS - 150, 6);
    expect(exhaustedWindowPauseMs(call(0, NOW + 60_000), REQUESTS, NOW)).toBeCloseTo(UNIT_MS - 150, 6);
  });

  it('waits only until the reset when the oldest call leaves the window sooner', () => {
    expect(exhaustedWindowPauseMs(call(0, NOW + 2_000), RECORDS, NOW)).toBe(2_000);
  });

  it('never waits a negative time', () => {
    expect(exhaustedWindowPauseMs(call(0, NOW - 1_000), RECORDS, NOW)).toBe(0);
    expect(exhaustedWindowPauseMs(call(0, NOW + 60_000, 1, 5_000), REQUESTS, NOW)).toBe(0);
  });

  it('has only the reset to go by when no limit was told', () => {
    expect(exhaustedWindowPauseMs(call(0, NOW + 60_000), null, NOW)).toBe(60_000);
  });
});
