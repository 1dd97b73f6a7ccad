/**
 * The port between the domain and whatever carries tasks: BullMQ on Redis in distributed mode,
 * an in-process queue in embedded mode. Nothing above this file knows which one it has.
 *
 * Delivery is at least once. A task is identified by `id`; enqueueing an id that is already
 * waiting, delayed or running is a no-op, so re-dispatching from the database is always safe.
 */
import type { z } from 'zod';
import { TASKS, type TaskName, type TaskPayload } from './tasks';

export type TaskContext = {
  /** 1 for the first delivery of this id, then 2, 3… across retries. */
  delivery: number;
};

export type TaskHandler<N extends TaskName> = (payload: TaskPayload<N>, ctx: TaskContext) => Promise<void>;
export type TaskHandlers = { [N in TaskName]: TaskHandler<N> };

/** Thrown by a handler to have the same task delivered again after `delayMs`. */
export class RetryTaskLater extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'RetryTaskLater';
  }
}

export type QueueCounts = {
  /** Waiting tasks of the first lane (what the dispatcher feeds). */
  waiting: number;
  active: number;
  delayed: number;
  /** Waiting tasks of later lanes (`lane` ≥ 1): run only while the first lane is empty. */
  waitingLater: number;
};

export type TaskQueue = {
  readonly kind: 'in-process' | 'bullmq';
  /**
   * `lane` (default 0): a task of lane n starts only when no task of a lower lane waits, so the
   * later steps of a provider waterfall (lane = step) leave the worker's slots to the first step
   * while it has companies waiting, and its batches fill. A retried task keeps its lane.
   */
  enqueue<N extends TaskName>(
    name: N,
    tasks: ReadonlyArray<{ id: string; payload: TaskPayload<N>; lane?: number }>,
  ): Promise<void>;
  /** Starts consuming with at most `concurrency` handlers running at once in this process. */
  startWorker(
    handlers: TaskHandlers,
    opts: { concurrency: number; fallbackRetryDelayMs: (delivery: number) => number },
  ): void;
  counts(): Promise<QueueCounts>;
  ping(): Promise<void>;
  /**
   * Stops taking tasks, waits for the running ones (at most `waitMs`, then stops waiting: their
   * companies are released by the caller and their tasks delivered again), releases connections.
   */
  close(opts?: { waitMs?: number }): Promise<void>;
};

/**
 * Decodes a delivered payload with its kind's schema and runs that kind's handler. A malformed
 * payload never reaches a handler: its issues are returned for the adapter to log as it drops it.
 */
export async function runTask(
  handlers: TaskHandlers,
  name: TaskName,
  payload: unknown,
  ctx: TaskContext,
): Promise<{ malformed: z.core.$ZodIssue[] } | null> {
  const parsed = TASKS[name].payload.safeParse(payload);
  if (!parsed.success) return { malformed: parsed.error.issues };
  // The payload was parsed with this name's schema, which TypeScript cannot follow through the lookup.
  const handler = handlers[name] as TaskHandler<TaskName>;
  await handler(parsed.data as never, ctx);
  return null;
}
