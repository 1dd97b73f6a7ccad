/**
 * The distributed mode's limiter: the schedule lives in Redis, so every worker process on every
 * machine spends from one budget. Times come from Redis's clock, never from the workers'.
 */
import type { Redis } from 'ioredis';
import {
  RATE_WINDOW_MARGIN_MS,
  RATE_WINDOW_MS,
  type RateLimiter,
  type RateLimiterOptions,
  unitIntervalMs,
  waitCounter,
} from './rate-limiter';

// Reserves the next slot: returns how long the caller must wait before spending. With a window
// limit (ARGV[3] > 0) it is rate-limiter.ts's windowSlot over a list of "at:units" entries, oldest
// first; keep the two in step.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(tat, now, paused)
local units = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local windowMs = tonumber(ARGV[4])
if limit > 0 then
  local log = redis.call('LRANGE', KEYS[3], 0, -1)
  local ats, sizes, used = {}, {}, 0
  for i, entry in ipairs(log) do
    local sep = string.find(entry, ':', 1, true)
    ats[i] = tonumber(string.sub(entry, 1, sep - 1))
    sizes[i] = tonumber(string.sub(entry, sep + 1))
    used = used + sizes[i]
  end
  local expired = 0
  for i = 1, #log do
    if ats[i] > start - windowMs and used + units <= limit then break end
    start = math.max(start, ats[i] + windowMs)
    used = used - sizes[i]
    expired = i
  end
  if expired > 0 then redis.call('LTRIM', KEYS[3], expired, -1) end
  -- Rounded up: an entry a little late only makes the window stricter.
  redis.call('RPUSH', KEYS[3], string.format('%d:%d', math.ceil(start), units))
  redis.call('PEXPIRE', KEYS[3], math.ceil(start - now) + windowMs + 1000)
end
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

export function createRedisRateLimiter(
  opts: RateLimiterOptions & { redis: Redis; key: string },
): RateLimiter {
  const interval = unitIntervalMs(opts.perMinute);
  const keys = [`${opts.key}:tat`, `${opts.key}:paused`, `${opts.key}:sent`] as const;
  const windowArgs = [String(opts.windowLimit ?? 0), String(RATE_WINDOW_MS + RATE_WINDOW_MARGIN_MS)];
  const waits = waitCounter();
  return {
    async acquire(units, signal) {
      const wait = Number(
        await opts.redis.eval(RESERVE, 3, ...keys, String(interval * units), String(units), ...windowArgs),
      );
      await waits.during(wait, signal);
    },
    waiting: waits.count,
    async pauseFor(ms) {
      if (ms <= 0) return;
      await opts.redis.eval(PAUSE, 1, keys[1], String(Math.ceil(ms)));
    },
  };
}
