/**
 * Damage done for real, in a few minutes (see chaos-run.ts; bench:chaos runs every fault at full
 * length): a worker killed with SIGKILL, Redis flushed, PostgreSQL stopped, Redis down, the
 * feeding worker frozen past its leases, each during a job of its own, with the system at its
 * default settings. Every company must end in a final state, the counters must hold, no company
 * may be paid twice beyond the calls in flight at the fault, the ledger must equal the provider's
 * own count, and no job may wait for a dead or frozen worker.
 */
import { describe, expect, it } from 'vitest';
import { brokenPromises, FAULTS, redisServerAvailable, runChaos } from './chaos-run';

const COMPANIES = 600;

describe.skipIf(!(await redisServerAvailable()))('chaos: every fault, each during a job of its own', () => {
  it('loses no company, pays none twice, and keeps the ledger equal to the provider', async () => {
    const { results, cleanup } = await runChaos({
      companies: COMPANIES,
      faults: FAULTS,
      pgPort: 54_351,
      redisPort: 6_391,
      sandbox: { latencyMs: 40, errorRate: 0.1, rateLimitPerMin: 300 },
      postgresDownMs: 5_000,
      redisDownMs: 10_000,
      // Longer than a lease (30 s by default): the frozen worker's companies are taken over.
      freezeMs: 45_000,
      waitFor: (_what, check, timeout) => expect.poll(check, { timeout, interval: 100 }).toBe(true),
    });
    try {
      expect(results.map((r) => r.fault)).toEqual([...FAULTS]);
      for (const r of results) {
        expect({ fault: r.fault, broken: brokenPromises(r) }).toEqual({ fault: r.fault, broken: [] });
        expect(r.failed).toBe(0);
      }
    } finally {
      await cleanup();
    }
  }, 600_000);
});
