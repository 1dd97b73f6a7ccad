/**
 * The distributed mode's limiter: the schedule lives in Redis, so every worker process on every
 * machine spends from one budget. Times come from Redis's clock, never from the workers'.
 */
import type { Redis } from 'ioredis';
import { type RateLimiter, unitIntervalMs, waitCounter } from './rate-limiter';

// Reserves the next slot: returns how long the caller must wait before spending.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(tat, now, paused)
local nextTat = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(nextTat), 'PX', math.ceil(nextTat - now) + 60000)
return math.floor(start - now)
`;

const PAUSE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > current then
  redis.call('SET', KEYS[1], tostring(untilMs), 'PX', tonumber(ARGV[1]) + 1000)
end
return 0
`;

export function createRedisRateLimiter(opts: { redis: Redis; key: string; perMinute: number }): RateLimiter {
  const interval = unitIntervalMs(opts.perMinute);
  const keys = [`${opts.key}:tat`, `${opts.key}:paused`] as const;
  const waits = waitCounter();
  return {
    async acquire(units, signal) {
      const wait = Number(await opts.redis.eval(RESERVE, 2, keys[0], keys[1], String(interval * units)));
      await waits.during(wait, signal);
    },
    waiting: waits.count,
    async pauseFor(ms) {
      if (ms <= 0) return;
      await opts.redis.eval(PAUSE, 1, keys[1], String(Math.ceil(ms)));
    },
  };
}
