/**
 * Groups single-item requests made at about the same time into one bulk operation: the worker
 * holds one task per company, but the provider bills and rate-limits per call (and takes up to
 * 50 items in one), and the database is kinder to one statement of 50 rows than to 50 statements.
 * A batch is sent when it is full or when the window since its first item ends.
 */
export type MicroBatcherOptions<K, V, M> = {
  maxSize: number;
  windowMs: number;
  /**
   * One bulk operation. `metas[i]` holds what each caller of `keys[i]` passed along (who asked).
   * Every key must get a value or an Error in the result; a throw fails the whole batch.
   */
  runBatch: (keys: K[], metas: M[][]) => Promise<Map<K, V | Error>>;
  /**
   * When the window ends on a partial batch and this says more items are coming, wait another
   * window, up to `maxWaitMs` in all. Without it, the window alone decides.
   */
  moreComing?: () => boolean;
  maxWaitMs?: number;
  /**
   * While this says so, a partial batch keeps waiting, beyond `maxWaitMs`: e.g. calls already
   * wait for the rate limit, so sending now would only queue a smaller batch behind them.
   */
  holdWhile?: () => boolean;
  /** Told how many callers started (+) or stopped (-) waiting for a batch to be sent. */
  onWaitingChange?: (delta: number) => void;
};

export type MicroBatcher<K, V, M> = {
  load(key: K, meta: M): Promise<V>;
  /** Sends what is pending now. */
  flush(): void;
};

type Waiter<V, M> = { meta: M; resolve: (v: V) => void; reject: (e: unknown) => void };

export function createMicroBatcher<K, V, M = undefined>(
  opts: MicroBatcherOptions<K, V, M>,
): MicroBatcher<K, V, M> {
  // Identical keys inside one batch share one slot: a domain twice in flight costs one item.
  let pending = new Map<K, Waiter<V, M>[]>();
  let waiting = 0;
  let timer: NodeJS.Timeout | null = null;
  let firstAt = 0;

  function onWindowEnd(): void {
    timer = null;
    const waited = Date.now() - firstAt;
    if (opts.holdWhile?.() || (opts.moreComing?.() && waited + opts.windowMs <= (opts.maxWaitMs ?? 0))) {
      timer = setTimeout(onWindowEnd, opts.windowMs);
      return;
    }
    flush();
  }

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = pending;
    pending = new Map();
    if (batch.size === 0) return;
    opts.onWaitingChange?.(-waiting);
    waiting = 0;
    const keys = [...batch.keys()];
    const metas = [...batch.values()].map((ws) => ws.map((w) => w.meta));
    opts.runBatch(keys, metas).then(
      (results) => {
        for (const [key, waiters] of batch) {
          const r = results.get(key);
          for (const w of waiters) {
            if (r === undefined) w.reject(new Error(`bulk operation returned nothing for ${String(key)}`));
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
    load(key, meta) {
      return new Promise<V>((resolve, reject) => {
        const waiters = pending.get(key);
        if (waiters) waiters.push({ meta, resolve, reject });
        else pending.set(key, [{ meta, resolve, reject }]);
        if (pending.size >= opts.maxSize) {
          flush();
          return;
        }
        waiting++;
        if (!timer) {
          firstAt = Date.now();
          timer = setTimeout(onWindowEnd, opts.windowMs);
        }
        // Last: this may decide that everyone waits and send the batch at once.
        opts.onWaitingChange?.(1);
      });
    },
    flush,
  };
}
