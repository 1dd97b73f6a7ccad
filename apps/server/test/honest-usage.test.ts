/**
 * Honest usage: the ledger records a provider call only when the request reached the provider,
 * and counts as records billed only the items of answered calls, so it equals the provider's own
 * count (the sandbox's stats) under faults: the circuit breaker open, the rate limiter's Redis
 * down, a rejected key (401), 5xx answers, a provider that cannot be reached.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database';
import { createCreditBudget } from '../src/enrichment/credit-budget';
import { jobCredits, jobUsages, recordProviderCall } from '../src/enrichment/ledger.repository';
import { type CallerRef, createProviderBatcher } from '../src/enrichment/provider-batcher';
import { insertJob } from '../src/jobs/jobs.repository';
import { createCircuitBreakingProvider } from '../src/providers/circuit-breaker';
import { createExploriumClient } from '../src/providers/explorium/explorium-client';
import type { EnrichmentProvider } from '../src/providers/provider';
import { createRateLimitedProvider } from '../src/providers/rate-limit/rate-limited-provider';
import { createRedisRateLimiter } from '../src/providers/rate-limit/redis-rate-limiter';
import type { SandboxServer } from '../src/providers/sandbox/sandbox-server';
import { sandboxServers } from './sandbox-servers';
import { openMigratedTestDatabase } from './test-database';
import { apiFetch, csvFile, startTestSystem, type TestSystem, upload } from './test-system';

const ORG = 'acme';
const KEY = 'usage-key';
const silent = { warn: () => {} };

/** Requests the sandbox received, whatever it answered. */
const sandboxCalls = (s: SandboxServer) => {
  const { calls } = s.stats();
  return calls.match + calls.bulk_enrich + calls.enrich;
};
/** Items of the requests the sandbox answered 200. */
const sandboxRecords = (s: SandboxServer) => {
  const { items } = s.stats();
  return items.match + items.bulk_enrich + items.enrich;
};

describe('the ledger counts what reached the provider (provider batcher)', () => {
  const sandbox = sandboxServers(KEY);
  let database: DatabaseHandle;
  let closeDb: () => Promise<void>;

  beforeAll(async () => {
    ({ database, close: closeDb } = await openMigratedTestDatabase(ORG));
  });
  afterAll(async () => {
    await closeDb?.();
  });

  async function newCaller(maxCredits: number | null = null): Promise<CallerRef> {
    const job = await insertJob(database.db, {
      orgId: ORG,
      providers: ['sandbox'],
      filename: 'x.csv',
      total: 100,
      inputRows: 100,
      rejectedRows: 0,
      maxCredits,
    });
    return { orgId: ORG, jobId: job.id };
  }

  const client = (url: string, apiKey = KEY) =>
    createExploriumClient({ baseUrl: url, apiKey, name: 'sandbox', timeoutMs: 5_000, logger: silent });

  const batcherOver = (provider: EnrichmentProvider) =>
    createProviderBatcher(provider, {
      windowMs: 5,
      budget: createCreditBudget({ db: database.db }),
      onCall: async (report) => {
        await recordProviderCall(database.db, { provider: 'sandbox', ...report });
      },
    });

  const usage = async (caller: CallerRef) => {
    const found = (await jobUsages(database.db, [caller.jobId])).get(caller.jobId);
    return (
      found && {
        providerCalls: found.providerCalls,
        recordsBilled: found.recordsBilled,
        credits: found.credits,
      }
    );
  };

  it('records no call the open circuit turned away, and every 5xx call that reached the provider', async () => {
    const server = await sandbox({ errorRate: 1 });
    const breaker = createCircuitBreakingProvider(client(server.url), {
      failureThreshold: 2,
      cooldownMs: 60_000,
    });
    const batcher = batcherOver(breaker);
    const caller = await newCaller();
    for (let i = 0; i < 8; i++) {
      await expect(batcher.match(`breaker-${i}.com`, caller)).rejects.toMatchObject({ kind: 'transient' });
    }
    expect(breaker.state()).toBe('open');
    expect(sandboxCalls(server)).toBe(2);
    expect(await usage(caller)).toEqual({ providerCalls: 2, recordsBilled: 0, credits: 0 });
  });

  it("records no call when the rate limiter's Redis is down: nothing was sent", async () => {
    const server = await sandbox();
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    try {
      const limited = createRateLimitedProvider(client(server.url), {
        limiter: createRedisRateLimiter({ redis, key: 'usage-test', perMinute: 600 }),
        unit: 'request',
      });
      const batcher = batcherOver(limited);
      const caller = await newCaller(50);
      await expect(batcher.match('limiter-down.com', caller)).rejects.toThrow();
      await expect(batcher.enrich('0'.repeat(32), caller)).rejects.toThrow();
      expect(sandboxCalls(server)).toBe(0);
      expect(await usage(caller)).toBeUndefined();
      // The credits reserved for the enrich call that never left are given back.
      expect(await jobCredits(database.db, caller.jobId)).toEqual({ spent: 0, held: 0 });
    } finally {
      redis.disconnect();
    }
  });

  it('records a call the provider refused with 401, billing no record', async () => {
    const server = await sandbox();
    const batcher = batcherOver(client(server.url, 'a-wrong-key'));
    const caller = await newCaller();
    await expect(batcher.match('wrong-key.com', caller)).rejects.toMatchObject({ kind: 'auth' });
    expect(sandboxCalls(server)).toBe(1);
    expect(await usage(caller)).toEqual({ providerCalls: 1, recordsBilled: 0, credits: 0 });
  });

  it('records no call to a provider that cannot be reached, and gives its reserved credits back', async () => {
    const server = await sandbox();
    const url = server.url;
    await server.close();
    const batcher = batcherOver(client(url));
    const caller = await newCaller(100);
    await expect(batcher.enrich('1'.repeat(32), caller)).rejects.toMatchObject({ reachedProvider: false });
    expect(await usage(caller)).toBeUndefined();
    expect(await jobCredits(database.db, caller.jobId)).toEqual({ spent: 0, held: 0 });
  });

  it('equals the sandbox on answered calls: calls, records and credits', async () => {
    const server = await sandbox();
    const batcher = batcherOver(client(server.url));
    const caller = await newCaller(1_000);
    const domains = Array.from({ length: 60 }, (_, i) => `answered-${i}.com`);
    const matches = await Promise.all(domains.map((d) => batcher.match(d, caller)));
    const ids = matches.flatMap((m) => (m.businessId ? [m.businessId] : []));
    await Promise.all(ids.map((id) => batcher.enrich(id, caller)));
    const stats = server.stats();
    expect(await usage(caller)).toEqual({
      providerCalls: sandboxCalls(server),
      recordsBilled: sandboxRecords(server),
      credits: stats.creditsUsed,
    });
    expect(stats.creditsUsed).toBeGreaterThan(0);
    expect(await jobCredits(database.db, caller.jobId)).toEqual({ spent: stats.creditsUsed, held: 0 });
  });
});

describe('the ledger equals the sandbox under faults (whole system)', () => {
  let t: TestSystem;
  afterAll(async () => {
    await t?.stop();
  });

  it('at a 30 % provider error rate, the job usage equals the sandbox count', async () => {
    // Every third call fails, whatever the batching: at 30 % drawn at random, a run of a dozen
    // calls had none about once in seventy.
    let call = 0;
    t = await startTestSystem({ sandbox: { errorRate: 0.3, random: () => (call++ % 3 === 0 ? 0 : 0.99) } });
    const domains = Array.from({ length: 300 }, (_, i) => `flaky-${i}.com`);
    const res = await upload(t.baseUrl, csvFile(['domain', ...domains]), { org_id: ORG });
    const { id } = (await res.json()) as { id: string };
    type JobView = {
      status: string;
      usage: { provider_calls: number; records_billed: number; credits: number; providers: unknown[] };
    };
    const get = async () =>
      (await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${id}?org_id=${ORG}`)).json()) as JobView;
    await expect.poll(async () => (await get()).status, { timeout: 60_000, interval: 100 }).toBe('completed');
    const job = await get();
    // The sandbox fails a call with a 500 or a 503.
    const { responses } = t.sandbox.stats();
    expect((responses['500'] ?? 0) + (responses['503'] ?? 0)).toBeGreaterThan(0);
    expect(job.usage).toEqual({
      provider_calls: sandboxCalls(t.sandbox),
      records_billed: sandboxRecords(t.sandbox),
      credits: t.sandbox.stats().creditsUsed,
      cache_hits: 0,
      providers: [
        {
          provider: 'sandbox',
          provider_calls: sandboxCalls(t.sandbox),
          records_billed: sandboxRecords(t.sandbox),
          credits: t.sandbox.stats().creditsUsed,
        },
      ],
    });
  });
});
