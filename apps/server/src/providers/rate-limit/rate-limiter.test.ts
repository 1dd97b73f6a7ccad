/**
 * Both limiters keep one schedule: N units at P per minute take at least (N-1) intervals, however
 * many callers (or, with Redis, processes) share the key, and a pause holds every one of them.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, inject, it, vi } from 'vitest';
import { type EnrichmentProvider, FIRMOGRAPHIC_FIELDS, ProviderError } from '../provider';
import { createRateLimitedProvider } from './rate-limited-provider';
import {
  createInProcessRateLimiter,
  RATE_WINDOW_MARGIN_MS,
  RATE_WINDOW_MS,
  type RateLimiter,
  windowSlot,
} from './rate-limiter';
import { createRedisRateLimiter } from './redis-rate-limiter';

const redisUrl = inject('redisUrl');
const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});

// 6,000 a minute: one unit every 10 ms.
const PER_MINUTE = 6_000;
const INTERVAL_MS = 10;

type Make = (windowLimit?: number) => { a: RateLimiter; b: RateLimiter };
const kinds: [string, Make | null][] = [
  [
    'in-process',
    (windowLimit) => {
      const shared = createInProcessRateLimiter({ perMinute: PER_MINUTE, windowLimit });
      return { a: shared, b: shared };
    },
  ],
  [
    'redis',
    redisUrl
      ? (windowLimit) => {
          const key = `test-limiter-${randomBytes(4).toString('hex')}`;
          const make = () => {
            const redis = new Redis(redisUrl);
            clients.push(redis);
            return createRedisRateLimiter({ redis, key, perMinute: PER_MINUTE, windowLimit });
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
      // The second caller waits half a second behind the first: long enough to be seen waiting
      // on a busy machine.
      const pending = Promise.all([a.acquire(50), a.acquire(1)]);
      await expect.poll(() => a.waiting()).toBeGreaterThan(0);
      await pending;
      expect(a.waiting()).toBe(0);
    });

    it("holds a call the window has no room for, whoever spent the window's units", async () => {
      // Paced at 6,000 a minute, only the window of 100 units can hold these calls back.
      const { a, b } = make!(100);
      await a.acquire(60);
      const started = performance.now();
      await b.acquire(40);
      expect(performance.now() - started).toBeLessThan(1_000);
      const aborted = new AbortController();
      const held = a.acquire(1, aborted.signal);
      await expect.poll(() => a.waiting()).toBe(1);
      aborted.abort(new Error('test over'));
      await expect(held).rejects.toThrow('test over');
    });

    it('holds every caller during a pause', async () => {
      const { a, b } = make!();
      // Timed from before the pause is set: however long setting it takes, b waits out the rest.
      const started = performance.now();
      await a.pauseFor(150);
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
      matching: 'call' as const,
      creditsPerRecord: 1,
      fills: FIRMOGRAPHIC_FIELDS,
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

  it('cuts batches to a limit in records smaller than a batch, and never to nothing', () => {
    const limiter = createInProcessRateLimiter({ perMinute: 1_000 });
    const cut = (unit: 'request' | 'record', limit?: number) =>
      createRateLimitedProvider(fakeProvider(null), { limiter, unit, limit }).maxBatchSize;
    expect(cut('record', 30)).toBe(15);
    expect(cut('record', 99)).toBe(49);
    expect(cut('record', 200)).toBe(50);
    expect(cut('record', 1)).toBe(1);
    expect(cut('request', 30)).toBe(50);
    expect(cut('record')).toBe(50);
  });

  it('moves a job at a limit of 30 records a minute: batches of 15, no 429, no endless wait', async () => {
    vi.useFakeTimers();
    try {
      const LIMIT = 30;
      // A provider counting records over a sliding minute, refusing what would overfill it.
      const counted: { at: number; units: number }[] = [];
      const strict: EnrichmentProvider = {
        name: 'sandbox',
        maxBatchSize: 50,
        matching: 'call',
        creditsPerRecord: 1,
        fills: FIRMOGRAPHIC_FIELDS,
        async matchBusinesses(domains) {
          const now = Date.now();
          const used = counted.filter((c) => c.at > now - 60_000).reduce((n, c) => n + c.units, 0);
          if (used + domains.length > LIMIT) throw new ProviderError('rate_limited', '429', { status: 429 });
          counted.push({ at: now, units: domains.length });
          return domains.map((domain) => ({ domain, businessId: null }));
        },
        enrichFirmographics: async () => new Map(),
      };
      const limiter = createInProcessRateLimiter({ perMinute: LIMIT * 0.98, windowLimit: LIMIT });
      const provider = createRateLimitedProvider(strict, { limiter, unit: 'record', limit: LIMIT });
      const domains = Array.from({ length: 150 }, (_, i) => `d${i}.com`);
      const started = Date.now();
      const done = (async () => {
        for (let i = 0; i < domains.length; i += provider.maxBatchSize) {
          await provider.matchBusinesses(domains.slice(i, i + provider.maxBatchSize));
        }
      })();
      await vi.runAllTimersAsync();
      await done;
      expect(counted.map((c) => c.units)).toEqual(Array(10).fill(15));
      // The last call's 15 records are spent as the clock stops: the rest went at ≥ 0.95 of the limit.
      const minutes = (Date.now() - started) / 60_000;
      expect((150 - 15) / minutes / LIMIT).toBeGreaterThanOrEqual(0.95);
    } finally {
      vi.useRealTimers();
    }
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

describe('window log', () => {
  const WINDOW = RATE_WINDOW_MS + RATE_WINDOW_MARGIN_MS;

  it('sends at once when the window behind has room', () => {
    expect(windowSlot([{ at: 0, units: 50 }], 1_000, 50, 200)).toEqual({ start: 1_000, expired: 0 });
  });

  it('waits for the oldest calls to leave the window until the new one fits', () => {
    const log = [
      { at: 0, units: 50 },
      { at: 10_000, units: 47 },
      { at: 20_000, units: 50 },
      { at: 30_000, units: 48 },
    ];
    // 195 in the window: 50 more fit once the first call (50) has left it.
    expect(windowSlot(log, 40_000, 50, 200)).toEqual({ start: WINDOW, expired: 1 });
    // 60 more need the first two gone.
    expect(windowSlot(log, 40_000, 60, 200)).toEqual({ start: 10_000 + WINDOW, expired: 2 });
  });

  it('drops calls already out of the window without moving the start', () => {
    expect(windowSlot([{ at: 0, units: 200 }], WINDOW, 200, 200)).toEqual({ start: WINDOW, expired: 1 });
  });

  it('never waits forever for a call larger than the limit', () => {
    expect(windowSlot([{ at: 5, units: 10 }], 10, 80, 30)).toEqual({ start: 5 + WINDOW, expired: 1 });
    expect(windowSlot([], 10, 80, 30)).toEqual({ start: 10, expired: 0 });
  });
});

describe('pacing calls of mixed sizes at the ceiling', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps every window within the limit and reaches 0.95 of it', async () => {
    vi.useFakeTimers();
    const LIMIT = 200;
    const limiter = createInProcessRateLimiter({ perMinute: LIMIT * 0.98, windowLimit: LIMIT });
    // Match calls of 50 and bulk calls of 46-50 (misses need no firmographics), in turn.
    const sizes = Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 50 : 46 + (i % 5)));
    const sent: { at: number; units: number }[] = [];
    const done = (async () => {
      for (const units of sizes) {
        await limiter.acquire(units);
        sent.push({ at: Date.now(), units });
      }
    })();
    await vi.runAllTimersAsync();
    await done;
    for (const call of sent) {
      const inWindow = sent
        .filter((s) => s.at > call.at - RATE_WINDOW_MS && s.at <= call.at)
        .reduce((n, s) => n + s.units, 0);
      expect(inWindow).toBeLessThanOrEqual(LIMIT);
    }
    const units = sent.reduce((n, s) => n + s.units, 0);
    const minutes = (sent.at(-1)!.at - sent[0]!.at) / 60_000;
    // The last call's own units are spent after the clock stops.
    expect((units - sent.at(-1)!.units) / minutes / LIMIT).toBeGreaterThanOrEqual(0.95);
  });

  it('without the window log, the same calls overfill a window (why the log exists)', async () => {
    vi.useFakeTimers();
    const limiter = createInProcessRateLimiter({ perMinute: 196 });
    const sent: { at: number; units: number }[] = [];
    const done = (async () => {
      for (const units of [1, 1, 1, 1, 50, 50, 50, 50]) {
        await limiter.acquire(units);
        sent.push({ at: Date.now(), units });
      }
    })();
    await vi.runAllTimersAsync();
    await done;
    const last = sent.at(-1)!;
    const inWindow = sent.filter((s) => s.at > last.at - RATE_WINDOW_MS).reduce((n, s) => n + s.units, 0);
    expect(inWindow).toBeGreaterThan(200);
  });
});
