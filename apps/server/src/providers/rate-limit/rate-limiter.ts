/**
 * One provider rate limit shared by every caller. Explorium allows 200 a minute per key over a
 * sliding window; spacing calls evenly (GCRA: one unit every 60 s / limit) can never exceed a
 * sliding window of the same size, where a burst-then-wait bucket can.
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
export function createInProcessRateLimiter(opts: { perMinute: number; now?: () => number }): RateLimiter {
  const now = opts.now ?? Date.now;
  const interval = unitIntervalMs(opts.perMinute);
  let theoreticalArrival = 0;
  let pausedUntil = 0;
  const waits = waitCounter();
  return {
    async acquire(units, signal) {
      const t = now();
      const start = Math.max(theoreticalArrival, t, pausedUntil);
      theoreticalArrival = start + interval * units;
      await waits.during(start - t, signal);
    },
    async pauseFor(ms) {
      pausedUntil = Math.max(pausedUntil, now() + ms);
    },
    waiting: waits.count,
  };
}
