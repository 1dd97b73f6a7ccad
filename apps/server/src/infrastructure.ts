/**
 * The one place that decides the mode. With REDIS_URL the installation is distributed: tasks go
 * through BullMQ, a provider's rate limit and the API's are shared through Redis, and the feeder
 * role is a lease that one worker at a time holds. Without it everything lives in this process.
 * Nothing else reads REDIS_URL or asks which queue it has.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config';
import type { Db } from './db/database';
import { createRoleLease, type RoleLease } from './db/role-lease';
import {
  createInProcessRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
} from './providers/rate-limit/rate-limiter';
import { createRedisRateLimiter } from './providers/rate-limit/redis-rate-limiter';
import { createBullmqTaskQueue } from './queue/bullmq-task-queue';
import { createInProcessTaskQueue } from './queue/in-process-task-queue';
import type { TaskQueue } from './queue/task-queue';

// The feeder role outlives its holder's last renewal by this much: a frozen feeder is replaced within it.
const FEEDER_LEASE_MS = 5_000;

/** One process that feeds the queue; null: this process is the only one, so it always feeds. */
export type DispatchLease = RoleLease | null;

export type Infrastructure = {
  queue: TaskQueue;
  /** A provider's limiter: one budget for every process that uses `key`. */
  rateLimiter(key: string, opts: RateLimiterOptions): RateLimiter;
  /** Where the API's per-key request counters live; null: in this process. */
  apiRateLimitRedis: Redis | null;
  /** The queue dashboard's connection, where there is a queue worth a dashboard. */
  queueDashboard: { redisUrl: string; prefix: string } | null;
  /** The feeder role for this process (`holder`). */
  dispatchLease(db: Db, holder: string): DispatchLease;
  /** Closes the connections opened here (the queue closes itself). */
  close(): void;
};

export function createInfrastructure(
  config: Config,
  opts: { logger: Logger; roles: { api: boolean } },
): Infrastructure {
  const { logger } = opts;
  const redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    return {
      queue: createInProcessTaskQueue({ logger }),
      rateLimiter: (_key, limits) => createInProcessRateLimiter(limits),
      apiRateLimitRedis: null,
      queueDashboard: null,
      dispatchLease: () => null,
      close: () => {},
    };
  }

  const clients: Redis[] = [];
  const connect = (purpose: string, options: RedisOptions): Redis => {
    const client = new Redis(redisUrl, options);
    client.on('error', (err) => logger.warn({ err: err.message }, `redis (${purpose}) connection error`));
    clients.push(client);
    return client;
  };
  let limiterRedis: Redis | null = null;
  return {
    queue: createBullmqTaskQueue({ redisUrl, prefix: config.QUEUE_PREFIX, logger }),
    rateLimiter(key, limits) {
      limiterRedis ??= connect('rate limiter', { maxRetriesPerRequest: 3 });
      return createRedisRateLimiter({ redis: limiterRedis, key, ...limits });
    },
    // The API's rate limit is per key across every API process: one Redis counter per key.
    apiRateLimitRedis:
      opts.roles.api && config.API_RATE_LIMIT_PER_MIN > 0
        ? connect('API rate limit', { maxRetriesPerRequest: 1, connectTimeout: 2_000 })
        : null,
    queueDashboard: opts.roles.api ? { redisUrl, prefix: config.QUEUE_PREFIX } : null,
    // Each feeder walks the jobs with cursors of its own, so N feeders would offer every company
    // to the queue N times: the role is an expiring lease (ADR 0005).
    dispatchLease: (db, holder) =>
      createRoleLease({
        db,
        role: 'feeder',
        holder,
        ttlMs: FEEDER_LEASE_MS,
        onError: (err) => logger.warn({ err }, 'could not renew or take the feeder role'),
      }),
    close() {
      for (const client of clients) client.disconnect();
    },
  };
}
