/**
 * One suite, both adapters: whatever carries the tasks, the domain sees the same behaviour.
 * BullMQ runs against the real Redis at REDIS_URL (skipped, and said so, when it is not set).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createBullmqTaskQueue } from './bullmq-task-queue';
import { createInProcessTaskQueue } from './in-process-task-queue';
import { RetryTaskLater, type TaskQueue } from './task-queue';
import type { TaskPayload } from './tasks';

const logger = pino({ level: 'silent' });
const redisUrl = inject('redisUrl');

type Factory = () => { queue: TaskQueue; cleanup(): Promise<void> };

const adapters: [string, Factory | null][] = [
  ['in-process', () => ({ queue: createInProcessTaskQueue({ logger }), cleanup: async () => {} })],
  [
    'bullmq',
    redisUrl
      ? () => {
          const prefix = `conformance-${randomBytes(4).toString('hex')}`;
          return {
            queue: createBullmqTaskQueue({ redisUrl, prefix, logger }),
            async cleanup() {
              const redis = new Redis(redisUrl);
              const keys = await redis.keys(`${prefix}:*`);
              if (keys.length > 0) await redis.del(...keys);
              redis.disconnect();
            },
          };
        }
      : null,
  ],
];

function payload(): TaskPayload<'enrich-company'> {
  return { orgId: 'acme', jobId: randomUUID(), companyId: randomUUID() };
}
const noDelay = () => 10;
/** These tests carry enrich-company tasks only. */
const noIngest = {
  'ingest-upload': async () => {
    throw new Error('no ingest-upload task was enqueued');
  },
};
/** Handlers that note each company delivered, in order. */
const recording = (seen: string[]) => ({
  ...noIngest,
  'enrich-company': async (x: TaskPayload<'enrich-company'>) => {
    seen.push(x.companyId);
  },
});

for (const [name, factory] of adapters) {
  describe.skipIf(factory === null)(`TaskQueue conformance: ${name}`, () => {
    let current: ReturnType<Factory> | null = null;
    const make = () => {
      current = factory!();
      return current.queue;
    };
    afterEach(async () => {
      await current?.queue.close();
      await current?.cleanup();
      current = null;
    });

    it('delivers every enqueued task once, with its payload', async () => {
      const queue = make();
      const tasks = Array.from({ length: 30 }, () => payload());
      const seen: string[] = [];
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async (p, ctx) => {
            expect(ctx.delivery).toBe(1);
            seen.push(p.companyId);
          },
        },
        { concurrency: 5, fallbackRetryDelayMs: noDelay },
      );
      await queue.enqueue(
        'enrich-company',
        tasks.map((p) => ({ id: p.companyId, payload: p })),
      );
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(30);
      expect(new Set(seen)).toEqual(new Set(tasks.map((t) => t.companyId)));
    });

    it('ignores an id it already holds', async () => {
      const queue = make();
      const p = payload();
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      await queue.enqueue('enrich-company', [
        { id: p.companyId, payload: p },
        { id: p.companyId, payload: p },
      ]);
      const other = payload();
      await queue.enqueue('enrich-company', [{ id: other.companyId, payload: other }]);
      const seen: string[] = [];
      queue.startWorker(recording(seen), { concurrency: 2, fallbackRetryDelayMs: noDelay });
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
      // Give a stray duplicate the chance to show up before concluding there is none.
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.sort()).toEqual([p.companyId, other.companyId].sort());
    });

    it('delivers again after RetryTaskLater, counting deliveries', async () => {
      const queue = make();
      const p = payload();
      const deliveries: number[] = [];
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async (_x, ctx) => {
            deliveries.push(ctx.delivery);
            if (ctx.delivery < 3) throw new RetryTaskLater(20, 'not yet');
          },
        },
        { concurrency: 1, fallbackRetryDelayMs: () => 60_000 },
      );
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      await expect.poll(() => deliveries, { timeout: 10_000 }).toEqual([1, 2, 3]);
    });

    it('retries an unexpected error after the fallback delay', async () => {
      const queue = make();
      const p = payload();
      const deliveries: number[] = [];
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async (_x, ctx) => {
            deliveries.push(ctx.delivery);
            if (ctx.delivery === 1) throw new Error('database went away');
          },
        },
        { concurrency: 1, fallbackRetryDelayMs: noDelay },
      );
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      await expect.poll(() => deliveries, { timeout: 10_000 }).toEqual([1, 2]);
    });

    it('never runs more handlers at once than its concurrency', async () => {
      const queue = make();
      let running = 0;
      let peak = 0;
      let done = 0;
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 15));
            running--;
            done++;
          },
        },
        { concurrency: 3, fallbackRetryDelayMs: noDelay },
      );
      const tasks = Array.from({ length: 20 }, () => payload());
      await queue.enqueue(
        'enrich-company',
        tasks.map((p) => ({ id: p.companyId, payload: p })),
      );
      await expect.poll(() => done, { timeout: 10_000 }).toBe(20);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThan(1);
    });

    it('drops a malformed payload instead of handing it to the handler', async () => {
      const queue = make();
      const good = payload();
      const seen: string[] = [];
      queue.startWorker(recording(seen), { concurrency: 1, fallbackRetryDelayMs: noDelay });
      const bad = {
        orgId: 'acme',
        jobId: 'not-a-uuid',
        companyId: 'x',
      } as unknown as TaskPayload<'enrich-company'>; // a corrupt message, on purpose
      await queue.enqueue('enrich-company', [
        { id: 'bad', payload: bad },
        { id: good.companyId, payload: good },
      ]);
      await expect.poll(() => seen, { timeout: 10_000 }).toEqual([good.companyId]);
    });

    it('accepts an id again once its task has finished (re-drive)', async () => {
      const queue = make();
      const p = payload();
      let count = 0;
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async () => {
            count++;
          },
        },
        { concurrency: 1, fallbackRetryDelayMs: noDelay },
      );
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      await expect.poll(() => count, { timeout: 10_000 }).toBe(1);
      // The handler returning is not the end of the task: BullMQ frees the id when it records the
      // completion a moment later. (A re-drive that lands in that moment is repaired by the sweep.)
      await expect.poll(async () => (await queue.counts()).active, { timeout: 10_000 }).toBe(0);
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      await expect.poll(() => count, { timeout: 10_000 }).toBe(2);
    });

    it('close() waits for the handlers that are running', async () => {
      const queue = make();
      let finished = false;
      let started = false;
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async () => {
            started = true;
            await new Promise((r) => setTimeout(r, 200));
            finished = true;
          },
        },
        { concurrency: 1, fallbackRetryDelayMs: noDelay },
      );
      const p = payload();
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      await expect.poll(() => started, { timeout: 10_000 }).toBe(true);
      await queue.close();
      expect(finished).toBe(true);
    });

    it('starts a task of a later lane only when no task of an earlier lane waits', async () => {
      const queue = make();
      const order: string[] = [];
      const later = Array.from({ length: 3 }, () => payload());
      const first = Array.from({ length: 3 }, () => payload());
      // Enqueued first, in lanes 2 and 1; then lane 0, which still runs before them.
      await queue.enqueue('enrich-company', [{ id: later[0]!.companyId, payload: later[0]!, lane: 2 }]);
      await queue.enqueue(
        'enrich-company',
        later.slice(1).map((p) => ({ id: p.companyId, payload: p, lane: 1 })),
      );
      await queue.enqueue(
        'enrich-company',
        first.map((p) => ({ id: p.companyId, payload: p })),
      );
      expect(await queue.counts()).toMatchObject({ waiting: 3, waitingLater: 3 });
      queue.startWorker(
        {
          ...noIngest,
          'enrich-company': async (p) => {
            order.push(p.companyId);
          },
        },
        { concurrency: 1, fallbackRetryDelayMs: noDelay },
      );
      await expect.poll(() => order.length, { timeout: 10_000 }).toBe(6);
      expect(order).toEqual([...first, later[1]!, later[2]!, later[0]!].map((p) => p.companyId));
    });

    it('answers ping and counts', async () => {
      const queue = make();
      await expect(queue.ping()).resolves.toBeUndefined();
      const p = payload();
      await queue.enqueue('enrich-company', [{ id: p.companyId, payload: p }]);
      expect(await queue.counts()).toMatchObject({ waiting: 1, active: 0 });
    });
  });
}
