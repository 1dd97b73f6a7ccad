/**
 * Knows how many of this worker's tasks are in flight and how many of them wait in a provider
 * batch, so a partial batch is sent only when waiting longer cannot fill it.
 *
 * A batch window alone fragments: companies that finish early (no match, cache hit) free their
 * slots before the rest of their round, and their replacements arrive alone. While other tasks
 * are still moving (claiming, writing, calling the provider), more companies are coming, so a
 * partial batch waits; when every task in flight waits in a batch, nothing else can come, and all
 * batches are sent at once.
 */
export type BatchFlow = {
  taskStarted(): void;
  taskEnded(): void;
  /** A batcher's count of waiting tasks changed by `delta`. */
  waiting(delta: number): void;
  /** True while some task in flight is not waiting in a batch. */
  othersMoving(): boolean;
  /** Registers a batcher's flush, called when every task in flight waits in a batch. */
  onIdle(flush: () => void): void;
};

export function createBatchFlow(opts: { idleGraceMs: number }): BatchFlow {
  let inFlight = 0;
  let waitingTotal = 0;
  const flushers: Array<() => void> = [];
  let timer: NodeJS.Timeout | null = null;

  // A grace period, because between one task's end and its replacement's start (a Redis round
  // trip with BullMQ) the worker can look idle without being so.
  function check(): void {
    if (inFlight - waitingTotal > 0 || timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (inFlight - waitingTotal <= 0) for (const flush of flushers) flush();
    }, opts.idleGraceMs);
  }

  return {
    taskStarted() {
      inFlight++;
    },
    taskEnded() {
      inFlight--;
      check();
    },
    waiting(delta) {
      waitingTotal += delta;
      check();
    },
    othersMoving: () => inFlight - waitingTotal > 0,
    onIdle(flush) {
      flushers.push(flush);
    },
  };
}
