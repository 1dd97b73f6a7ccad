/**
 * The embedded mode's queue: tasks live in this process's memory. Nothing is lost by that:
 * PostgreSQL holds every company's status, and the dispatcher re-enqueues what is unfinished
 * when the process starts again.
 */
import type { Logger } from 'pino';
import { type QueueCounts, RetryTaskLater, runTask, type TaskHandlers, type TaskQueue } from './task-queue';
import { TASKS, type TaskName } from './tasks';

type Entry = { name: TaskName; id: string; payload: unknown; delivery: number; lane: number };

/** A FIFO of entries, consumed from `head` and compacted as it goes. */
type Lane = { items: Entry[]; head: number };

export function createInProcessTaskQueue(opts: { logger: Logger }): TaskQueue {
  const log = opts.logger;
  // Lane n waits while any lane below it has an entry (task-queue.ts).
  const lanes: Lane[] = [];
  // Every id waiting, delayed or running: the dedupe the port promises.
  const known = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let handlers: TaskHandlers | null = null;
  let concurrency = 0;
  let fallbackDelay: (delivery: number) => number = () => 1000;
  let closed = false;
  let delayed = 0;

  const key = (name: TaskName, id: string) => `${name}:${id}`;

  const waitingIn = (lane: Lane | undefined) => (lane ? lane.items.length - lane.head : 0);

  function push(entry: Entry): void {
    for (let i = lanes.length; i <= entry.lane; i++) lanes.push({ items: [], head: 0 });
    lanes[entry.lane]!.items.push(entry);
  }

  function next(): Entry | null {
    for (const lane of lanes) {
      if (lane.head >= lane.items.length) continue;
      const entry = lane.items[lane.head]!;
      lane.head++;
      // Compact once the consumed prefix dominates, so a long run does not keep every payload.
      if (lane.head > 1024 && lane.head * 2 > lane.items.length) {
        lane.items.splice(0, lane.head);
        lane.head = 0;
      }
      return entry;
    }
    return null;
  }

  function pump(): void {
    while (!closed && handlers && running.size < concurrency) {
      const entry = next();
      if (!entry) break;
      const p = run(entry).finally(() => {
        running.delete(p);
        pump();
      });
      running.add(p);
    }
  }

  async function run(entry: Entry): Promise<void> {
    try {
      const dropped = await runTask(handlers!, entry.name, entry.payload, { delivery: entry.delivery });
      known.delete(key(entry.name, entry.id));
      if (dropped) {
        log.error(
          { task: entry.name, taskId: entry.id, issues: dropped.malformed },
          'dropped a task with a malformed payload',
        );
      }
    } catch (err) {
      if (entry.delivery >= TASKS[entry.name].maxDeliveries || closed) {
        known.delete(key(entry.name, entry.id));
        if (!closed)
          log.error({ err, task: entry.name, taskId: entry.id }, 'task gave up after its last delivery');
        return;
      }
      const delayMs = err instanceof RetryTaskLater ? err.delayMs : fallbackDelay(entry.delivery);
      if (!(err instanceof RetryTaskLater))
        log.warn({ err, task: entry.name, taskId: entry.id }, 'task failed; retrying');
      schedule({ ...entry, delivery: entry.delivery + 1 }, delayMs);
    }
  }

  function schedule(entry: Entry, delayMs: number): void {
    delayed++;
    const timer = setTimeout(() => {
      timers.delete(timer);
      delayed--;
      push(entry);
      pump();
    }, delayMs);
    timers.add(timer);
  }

  return {
    kind: 'in-process',
    async enqueue(name, tasks) {
      if (closed) throw new Error('queue is closed');
      for (const t of tasks) {
        const k = key(name, t.id);
        if (known.has(k)) continue;
        known.add(k);
        push({ name, id: t.id, payload: t.payload, delivery: 1, lane: t.lane ?? 0 });
      }
      pump();
    },
    startWorker(h, o) {
      handlers = h;
      concurrency = o.concurrency;
      fallbackDelay = o.fallbackRetryDelayMs;
      pump();
    },
    async counts(): Promise<QueueCounts> {
      return {
        waiting: waitingIn(lanes[0]),
        active: running.size,
        delayed,
        waitingLater: lanes.slice(1).reduce((n, lane) => n + waitingIn(lane), 0),
      };
    },
    async ping() {
      if (closed) throw new Error('queue is closed');
    },
    async close(o) {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const settled = Promise.allSettled([...running]);
      if (o?.waitMs === undefined) await settled;
      else await Promise.race([settled, new Promise((r) => setTimeout(r, o.waitMs).unref())]);
    },
  };
}
