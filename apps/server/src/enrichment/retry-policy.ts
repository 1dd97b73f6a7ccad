/**
 * The one retry policy: how many attempts a company gets and how long to wait between them.
 * Exponential backoff with "equal jitter" (half fixed, half random) so that retries spread out
 * instead of arriving together; a provider's Retry-After wins when it asks for longer.
 */
export type RetryPolicyOptions = {
  /** Attempts per company, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt, in ms; doubles with each attempt. */
  baseDelayMs: number;
  /** Upper bound of the backoff, in ms (Retry-After may exceed it: the provider knows best). */
  maxDelayMs: number;
  random?: () => number;
};

export type RetryPolicy = {
  readonly maxAttempts: number;
  /** Delay before attempt `attempt + 1`, after `attempt` attempts failed (attempt ≥ 1). */
  delayMs(attempt: number, retryAfterMs?: number | null): number;
  hasAttemptsLeft(attemptsMade: number): boolean;
};

// A little spread on top of Retry-After, so workers told "60 s" do not all return on the same tick.
const RETRY_AFTER_SPREAD = 0.1;

export function createRetryPolicy(opts: RetryPolicyOptions): RetryPolicy {
  const random = opts.random ?? Math.random;
  return {
    maxAttempts: opts.maxAttempts,
    delayMs(attempt, retryAfterMs) {
      const exp = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.max(0, attempt - 1));
      const backoff = Math.round(exp / 2 + random() * (exp / 2));
      if (retryAfterMs != null && retryAfterMs > 0) {
        return Math.max(backoff, Math.round(retryAfterMs * (1 + random() * RETRY_AFTER_SPREAD)));
      }
      return backoff;
    },
    hasAttemptsLeft(attemptsMade) {
      return attemptsMade < opts.maxAttempts;
    },
  };
}

/** The policy as the settings give it (TASK_MAX_ATTEMPTS, TASK_BACKOFF_BASE_MS, TASK_BACKOFF_MAX_MS). */
export function retryPolicyFromSettings(settings: {
  TASK_MAX_ATTEMPTS: number;
  TASK_BACKOFF_BASE_MS: number;
  TASK_BACKOFF_MAX_MS: number;
}): RetryPolicy {
  return createRetryPolicy({
    maxAttempts: settings.TASK_MAX_ATTEMPTS,
    baseDelayMs: settings.TASK_BACKOFF_BASE_MS,
    maxDelayMs: settings.TASK_BACKOFF_MAX_MS,
  });
}
