/**
 * Both limiters keep one schedule: N units at P per minute take at least (N-1) intervals, however
 * many callers (or, with Redis, processes) share the key, and a pause holds every one of them.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type EnrichmentProvider, ProviderError } from '../provider';
import { createRateLimitedProvider } from './rate-limited-provider';
import { createInProcessRateLimiter, type RateLimiter } from './rate-limiter';
import { createRedisRateLimiter } from './redis-rate-limiter';

const redisUrl = inject('redisUrl');
const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});

// 6,000 a minute: one unit every 10 ms.
const PER_MINUTE = 6_000;
const INTERVAL_MS = 10;

type Make = () => { a: RateLimiter; b: RateLimiter };
const kinds: [string, Make | null][] = [
  [
    'in-process',
    () => {
      const shared = createInProcessRateLimiter({ perMinute: PER_MINUTE });
      return { a: shared, b: shared };
    },
  ],
  [
    'redis',
    redisUrl
      ? () => {
          const key = `test-limiter-${randomBytes(4).toString('hex')}`;
          const make = () => {
            const redis = new Redis(redisUrl);
            clients.push(redis);
            return createRedisRateLimiter({ redis, key, perMinute: PER_MINUTE });
          };
          // Two clients, as two worker processes would have.
          return { a: make(), b: make() };
        }
      : null,
  ],
];

for (const [name, make] of kinds) {
  describe.skipIf(make === null)(`rate limiter: ${name}`, () => {
    it('spaces units evenly across every caller of the key', async () => {
      const { a, b } = make!();
      const started = performance.now();
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire(1)));
      expect(performance.now() - started).toBeGreaterThanOrEqual(19 * INTERVAL_MS - 5);
    });

    it('counts a call of many records as many units', async () => {
      const { a } = make!();
      await a.acquire(1);
      const started = performance.now();
      await a.acquire(15);
      await a.acquire(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual(15 * INTERVAL_MS - 5);
    });

    it('counts the callers waiting for their turn', async () => {
      const { a } = make!();
      await a.acquire(1);
      const pending = Promise.all([a.acquire(5), a.acquire(1)]);
      await expect.poll(() => a.waiting()).toBeGreaterThan(0);
      await pending;
      expect(a.waiting()).toBe(0);
    });

    it('holds every caller during a pause', async () => {
      const { a, b } = make!();
      await a.pauseFor(150);
      const started = performance.now();
      await b.acquire(1);
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    });
  });
}

describe('rate-limited provider', () => {
  function fakeProvider(fail: ProviderError | null): EnrichmentProvider & { calls: number } {
    const p = {
      name: 'sandbox' as const,
      maxBatchSize: 50,
      calls: 0,
      async matchBusinesses(domains: readonly string[]) {
        p.calls++;
        if (fail) throw fail;
        return domains.map((domain) => ({ domain, businessId: null }));
      },
      async enrichFirmographics() {
        p.calls++;
        return new Map();
      },
    };
    return p;
  }

  it('spends one unit a call by request and one a record by record', async () => {
    const spent: number[] = [];
    const limiter: RateLimiter = {
      acquire: async (units) => {
        spent.push(units);
      },
      pauseFor: async () => {},
      waiting: () => 0,
    };
    const domains = ['a.com', 'b.com', 'c.com'];
    await createRateLimitedProvider(fakeProvider(null), { limiter, unit: 'request' }).matchBusinesses(
      domains,
    );
    await createRateLimitedProvider(fakeProvider(null), { limiter, unit: 'record' }).matchBusinesses(domains);
    expect(spent).toEqual([1, 3]);
  });

  it("pauses everyone for a 429's Retry-After", async () => {
    const pauses: number[] = [];
    const limiter: RateLimiter = {
      acquire: async () => {},
      pauseFor: async (ms) => void pauses.push(ms),
      waiting: () => 0,
    };
    const provider = createRateLimitedProvider(
      fakeProvider(new ProviderError('rate_limited', '429', { status: 429, retryAfterMs: 30_000 })),
      { limiter, unit: 'request' },
    );
    await expect(provider.matchBusinesses(['a.com'])).rejects.toMatchObject({ kind: 'rate_limited' });
    expect(pauses).toEqual([30_000]);
  });
});
