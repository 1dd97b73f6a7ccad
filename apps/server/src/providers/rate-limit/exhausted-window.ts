/**
 * What a response's `X-RateLimit-Remaining: 0` asks of the shared limiter.
 *
 * Remaining 0 says the provider's window is full now; it does not say for how long. Providers
 * read `X-RateLimit-Reset` two ways for a sliding window: when the oldest counted call leaves it
 * (oldest call + 60 s), or a full window from now (now + 60 s). Waiting until the reset under the
 * second reading stops every caller for a minute each time the window fills, which at the
 * ceiling is every few calls. So the wait is one pacing interval for the call's units, the time
 * the limiter spaces such a call from the next, or until the reset when that comes sooner. A 429
 * with Retry-After stays the hard stop (rate-limited-provider.ts).
 */
import { type RateLimitUnit, unitIntervalMs } from './rate-limiter';

export type RateLimitPacing = { perMinute: number; unit: RateLimitUnit };

export type RateLimitedCall = {
  /** Items the call carried. */
  items: number;
  /** From sending the call to its answer. */
  durationMs: number;
  /** The response's X-RateLimit-* headers; null when absent. */
  rateLimit: { remaining: number; resetAtMs: number } | null;
};

/**
 * Milliseconds nobody may call from `nowMs` on, after `call` answered; 0 when its window still has
 * room. The interval runs from when the call was sent, as the limiter's own spacing does, so a
 * limiter already pacing at the limit loses nothing to it. Without pacing (no limit told), the
 * reset is all there is to go by.
 */
export function exhaustedWindowPauseMs(
  call: RateLimitedCall,
  pacing: RateLimitPacing | null,
  nowMs: number,
): number {
  if (call.rateLimit === null || call.rateLimit.remaining > 0) return 0;
  const untilReset = call.rateLimit.resetAtMs - nowMs;
  if (pacing === null) return Math.max(0, untilReset);
  const units = pacing.unit === 'request' ? 1 : Math.max(1, call.items);
  const untilNextSlot = units * unitIntervalMs(pacing.perMinute) - call.durationMs;
  return Math.max(0, Math.min(untilNextSlot, untilReset));
}
