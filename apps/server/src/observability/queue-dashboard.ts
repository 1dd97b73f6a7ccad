/**
 * bull-board at /admin/queues, for the distributed mode's BullMQ queue. It shows every
 * organization's tasks (org, job and company ids) and the Redis server's own statistics, so it is
 * an operator's tool: served on the private operations listener (metrics-server.ts), and on the
 * API port only behind OPERATOR_API_KEY (http/auth.ts). Read-only all the same: a dashboard that
 * can delete or promote tasks is a larger thing to lose. PostgreSQL, not the queue, holds each company's outcome; finished and
 * failed tasks are removed from Redis at once, so the board shows what is waiting, active and delayed.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { Redis } from 'ioredis';
import { QUEUE_NAME as BULLMQ_QUEUE_NAME } from '../queue/bullmq-task-queue';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export type QueueDashboard = { prefix: string; plugin: FastifyPluginAsync; close(): Promise<void> };

export function createQueueDashboard(opts: { redisUrl: string; prefix: string }): QueueDashboard {
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  // Errors surface on the board and in /readyz; an unhandled 'error' event would end the process.
  connection.on('error', () => {});
  const queue = new Queue(BULLMQ_QUEUE_NAME, { connection, prefix: opts.prefix });
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: true, description: 'enrich-company tasks' })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'GTM Enrich queue' } },
  });
  const register = serverAdapter.registerPlugin();
  return {
    prefix: QUEUE_DASHBOARD_PATH,
    plugin: async (app) => {
      await app.register(register);
    },
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}
