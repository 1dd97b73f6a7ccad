/** Bounded concurrency: at most `max` tasks run at once, the rest wait in order. */
export type Limiter = {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now (for tests and the benchmark). */
  readonly active: number;
};

export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`limit must be a whole number ≥ 1, got ${max}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    get active() {
      return active;
    },
    async run(task) {
      if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
      else active++;
      try {
        return await task();
      } finally {
        // The slot passes straight to the next waiter, so a newcomer cannot overtake it.
        const next = waiting.shift();
        if (next) next();
        else active--;
      }
    },
  };
}

/** One limiter per key (a host name), dropped once idle so that a long run keeps no map of every host. */
export function createKeyedLimiter(max: number): {
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
} {
  const limiters = new Map<string, { limiter: Limiter; users: number }>();
  return {
    async run(key, task) {
      let entry = limiters.get(key);
      if (!entry) {
        entry = { limiter: createLimiter(max), users: 0 };
        limiters.set(key, entry);
      }
      entry.users++;
      try {
        return await entry.limiter.run(task);
      } finally {
        entry.users--;
        if (entry.users === 0) limiters.delete(key);
      }
    },
  };
}
