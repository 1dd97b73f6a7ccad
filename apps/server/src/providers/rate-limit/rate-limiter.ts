/**
 * One provider rate limit shared by every caller. Explorium allows 200 a minute per key over a
 * sliding window. Calls are spaced evenly (GCRA: a call of n units takes n intervals of
 * 60 s / pace), which never bursts. Spacing alone can still put more than the limit in one
 * window when calls differ in size (units counted in records: calls of 1 and 50 items): a window
 * then holds up to pace + the largest call. So, when told the provider's own limit
 * (`windowLimit`), the limiter also keeps a log of what it sent and holds a call until the window
 * behind it has room for it.
 */
export type RateLimiter = {
  /** Waits until `units` may be spent. */
  acquire(units: number, signal?: AbortSignal): Promise<void>;
  /** Nobody spends anything for `ms` (a 429's Retry-After; an exhausted X-RateLimit-Remaining). */
  pauseFor(ms: number): Promise<void>;
  /** Calls of this process waiting for their turn now. */
  waiting(): number;
};

/** How the limiter counts a call: Explorium's pages read both ways, so it is a setting. */
export type RateLimitUnit = 'request' | 'record';

export const UNLIMITED: RateLimiter = {
  acquire: async () => {},
  pauseFor: async () => {},
  waiting: () => 0,
};

/** Counts the callers sleeping through `sleep`, for `waiting()`. */
export function waitCounter() {
  let n = 0;
  return {
    async during(ms: number, signal?: AbortSignal): Promise<void> {
      if (ms <= 0) return;
      n++;
      try {
        await sleep(ms, signal);
      } finally {
        n--;
      }
    },
    count: () => n,
  };
}

/** The provider's window. */
export const RATE_WINDOW_MS = 60_000;
/**
 * The window the log checks is this much longer: the provider counts a call when it arrives, and
 * two calls sent exactly a window apart may arrive less than a window apart.
 */
export const RATE_WINDOW_MARGIN_MS = 1_000;

export type RateLimiterOptions = {
  /** Units a minute to pace at (a little under the provider's limit). */
  perMinute: number;
  /**
   * The provider's limit: no window of 60 s (+ RATE_WINDOW_MARGIN_MS) holds more units than this.
   * Unset: pacing alone.
   */
  windowLimit?: number;
};

/** One call in the window log: when it may be sent and the units it spends. */
type Sent = { at: number; units: number };

/**
 * The earliest time from `start` at which `units` more fit in a window behind them, given the
 * log of earlier calls (oldest first, `at` never decreasing, every entry at or before `start`).
 * Returns that time and how many of the log's oldest entries are out of the window for good
 * (every later call starts at or after this one).
 */
export function windowSlot(
  log: readonly Sent[],
  start: number,
  units: number,
  windowLimit: number,
): { start: number; expired: number } {
  const windowMs = RATE_WINDOW_MS + RATE_WINDOW_MARGIN_MS;
  let at = start;
  let used = log.reduce((sum, s) => sum + s.units, 0);
  let expired = 0;
  for (const sent of log) {
    // Out of the window already, or must leave it for these units to fit.
    if (sent.at > at - windowMs && used + units <= windowLimit) break;
    at = Math.max(at, sent.at + windowMs);
    used -= sent.units;
    expired++;
  }
  return { start: at, expired };
}

/** Milliseconds between two units at `perMinute`. */
export function unitIntervalMs(perMinute: number): number {
  return 60_000 / perMinute;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** The embedded mode's limiter: the same arithmetic as the Redis one, in this process's memory. */
export function createInProcessRateLimiter(opts: RateLimiterOptions & { now?: () => number }): RateLimiter {
  const now = opts.now ?? Date.now;
  const interval = unitIntervalMs(opts.perMinute);
  let theoreticalArrival = 0;
  let pausedUntil = 0;
  const log: Sent[] = [];
  const waits = waitCounter();
  return {
    async acquire(units, signal) {
      const t = now();
      let start = Math.max(theoreticalArrival, t, pausedUntil);
      if (opts.windowLimit !== undefined) {
        const slot = windowSlot(log, start, units, opts.windowLimit);
        start = slot.start;
        log.splice(0, slot.expired);
        log.push({ at: start, units });
      }
      theoreticalArrival = start + interval * units;
      await waits.during(start - t, signal);
    },
    async pauseFor(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
    },
    waiting: waits.count,
  };
}
