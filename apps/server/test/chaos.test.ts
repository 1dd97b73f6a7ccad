/**
 * Damage done for real, in a few minutes (see chaos-run.ts): a worker killed with SIGKILL, Redis
 * flushed, PostgreSQL restarted, during one job. Every company must end in a final state, the
 * counters must hold, and no company may reach the provider twice beyond what the faults forced.
 */
import { describe, expect, it } from 'vitest';
import { redisServerAvailable, runChaos } from './chaos-run';
import { expectJobInvariants } from './invariants';

const COMPANIES = 600;
const WORKER_CONCURRENCY = 40;

describe.skipIf(!(await redisServerAvailable()))(
  'chaos: kill a worker, lose Redis, restart PostgreSQL',
  () => {
    it('loses no company and enriches none twice beyond the faults', async () => {
      const result = await runChaos({
        companies: COMPANIES,
        workerConcurrency: WORKER_CONCURRENCY,
        pgPort: 54_351,
        redisPort: 6_391,
        waitFor: (_what, check, timeout) => expect.poll(check, { timeout, interval: 100 }).toBe(true),
      });
      try {
        const { job } = result;
        expect(job.counts.enriched + job.counts.not_found + job.counts.failed).toBe(COMPANIES);
        expect(job.counts.failed).toBe(0);
        await result.withDatabase(expectJobInvariants);
        // Only companies in flight when a fault struck may have reached the provider twice.
        expect(result.enrichedTwice).toBeLessThanOrEqual(WORKER_CONCURRENCY * result.faults.length);
      } finally {
        await result.cleanup();
      }
    }, 300_000);
  },
);
