/**
 * The distributed mode's queue: BullMQ on Redis. BullMQ's own word "Job" stays inside this file;
 * everywhere else a queue message is a task. Completed and failed messages are removed at once:
 * PostgreSQL keeps every company's outcome, including dead letters.
 */
import { type Job as BullJob, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type QueueCounts, RetryTaskLater, runTask, type TaskHandlers, type TaskQueue } from './task-queue';
import { TASK_NAMES, TASKS, type TaskName } from './tasks';

/** Also opened by the queue dashboard (observability/queue-dashboard.ts). */
export const QUEUE_NAME = 'tasks';
const ENQUEUE_CHUNK = 1_000;

export function createBullmqTaskQueue(opts: { redisUrl: string; prefix: string; logger: Logger }): TaskQueue {
  const log = opts.logger;
  // BullMQ requires maxRetriesPerRequest: null on connections used by workers (blocking commands).
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  connection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = new Queue(QUEUE_NAME, { connection, prefix: opts.prefix });
  let worker: Worker | null = null;
  let workerConnection: Redis | null = null;
  let closing: Promise<void> | null = null;

  return {
    kind: 'bullmq',
    async enqueue(name, tasks) {
      for (let i = 0; i < tasks.length; i += ENQUEUE_CHUNK) {
        await queue.addBulk(
          tasks.slice(i, i + ENQUEUE_CHUNK).map((t) => ({
            name,
            data: t.payload,
            opts: {
              // BullMQ ignores an add whose jobId already exists: the dedupe the port promises.
              jobId: `${name}.${t.id}`,
              // BullMQ runs every job without a priority before any with one, lower numbers first.
              ...(t.lane ? { priority: t.lane } : {}),
              attempts: TASKS[name].maxDeliveries,
              backoff: { type: 'task' },
              removeOnComplete: true,
              removeOnFail: true,
            },
          })),
        );
      }
    },
    startWorker(handlers: TaskHandlers, o) {
      workerConnection = connection.duplicate();
      worker = new Worker(
        QUEUE_NAME,
        async (job: BullJob) => {
          const name = job.name as TaskName;
          if (!TASK_NAMES.includes(name)) {
            log.error({ task: job.name, taskId: job.id }, 'dropped a task of an unknown kind');
            return;
          }
          const dropped = await runTask(handlers, name, job.data, { delivery: job.attemptsMade + 1 });
          if (dropped) {
            log.error(
              { task: name, taskId: job.id, issues: dropped.malformed },
              'dropped a task with a malformed payload',
            );
          }
        },
        {
          connection: workerConnection,
          prefix: opts.prefix,
          concurrency: o.concurrency,
          settings: {
            backoffStrategy: (attemptsMade, _type, err) =>
              err instanceof RetryTaskLater ? err.delayMs : o.fallbackRetryDelayMs(attemptsMade),
          },
        },
      );
      worker.on('failed', (job, err) => {
        if (!(err instanceof RetryTaskLater)) log.warn({ err, taskId: job?.id }, 'task failed');
      });
      worker.on('error', (err) => log.warn({ err: err.message }, 'queue worker error'));
    },
    async counts(): Promise<QueueCounts> {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return {
        waiting: c.waiting ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        waitingLater: c.prioritized ?? 0,
      };
    },
    async ping() {
      await connection.ping();
    },
    close(o) {
      closing ??= (async () => {
        if (worker && o?.waitMs !== undefined) {
          const closed = worker.close();
          const inTime = await Promise.race([
            closed.then(() => true),
            new Promise<false>((r) => setTimeout(() => r(false), o.waitMs).unref()),
          ]);
          // Stop waiting: the tasks still running are left to BullMQ's stalled-task recovery.
          if (!inTime) await worker.close(true);
        }
        await worker?.close();
        await queue.close();
        workerConnection?.disconnect();
        connection.disconnect();
      })();
      return closing;
    },
  };
}
