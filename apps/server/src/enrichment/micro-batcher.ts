/**
 * Groups single-item requests made at about the same time into one bulk call: the worker holds
 * one task per company, but the provider bills and rate-limits per call, and takes up to 50
 * items in one. A batch is sent when it is full or when the window since its first item ends.
 */
export type MicroBatcherOptions<K, V> = {
  maxSize: number;
  windowMs: number;
  /** One bulk call. Every key must get a value or an Error in the result; a throw fails the whole batch. */
  runBatch: (keys: K[]) => Promise<Map<K, V | Error>>;
};

export type MicroBatcher<K, V> = { load(key: K): Promise<V> };

type Waiter<V> = { resolve: (v: V) => void; reject: (e: unknown) => void };

export function createMicroBatcher<K, V>(opts: MicroBatcherOptions<K, V>): MicroBatcher<K, V> {
  // Identical keys inside one batch share one slot: a domain twice in flight costs one item.
  let pending = new Map<K, Waiter<V>[]>();
  let timer: NodeJS.Timeout | null = null;

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = new Map();
    if (batch.size === 0) return;
    const keys = [...batch.keys()];
    opts.runBatch(keys).then(
      (results) => {
        for (const [key, waiters] of batch) {
          const r = results.get(key);
          for (const w of waiters) {
            if (r === undefined) w.reject(new Error(`bulk call returned nothing for ${String(key)}`));
            else if (r instanceof Error) w.reject(r);
            else w.resolve(r);
          }
        }
      },
      (err: unknown) => {
        for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      },
    );
  }

  return {
    load(key) {
      return new Promise<V>((resolve, reject) => {
        const waiters = pending.get(key);
        if (waiters) waiters.push({ resolve, reject });
        else pending.set(key, [{ resolve, reject }]);
        if (pending.size >= opts.maxSize) flush();
        else if (!timer) timer = setTimeout(flush, opts.windowMs);
      });
    },
  };
}
