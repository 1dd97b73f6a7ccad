/**
 * The embedded mode's queue: tasks live in this process's memory. Nothing is lost by that:
 * PostgreSQL holds every company's status, and the dispatcher re-enqueues what is unfinished
 * when the process starts again.
 */
import type { Logger } from 'pino';
import { type QueueCounts, RetryTaskLater, runTask, type TaskHandlers, type TaskQueue } from './task-queue';
import { TASKS, type TaskName } from './tasks';

type Entry = { name: TaskName; id: string; payload: unknown; delivery: number };

export function createInProcessTaskQueue(opts: { logger: Logger }): TaskQueue {
  const log = opts.logger;
  const ready: Entry[] = [];
  let readyHead = 0;
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

  function pump(): void {
    while (!closed && handlers && running.size < concurrency && readyHead < ready.length) {
      const entry = ready[readyHead]!;
      readyHead++;
      const p = run(entry).finally(() => {
        running.delete(p);
        pump();
      });
      running.add(p);
    }
    // Compact once the consumed prefix dominates, so a long run does not keep every payload.
    if (readyHead > 1024 && readyHead * 2 > ready.length) {
      ready.splice(0, readyHead);
      readyHead = 0;
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
      ready.push(entry);
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
        ready.push({ name, id: t.id, payload: t.payload, delivery: 1 });
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
      return { waiting: ready.length - readyHead, active: running.size, delayed };
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
