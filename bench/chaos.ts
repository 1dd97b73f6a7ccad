/**
 * `npm run bench:chaos`: a larger chaos run than the test's (see apps/server/test/chaos-run.ts):
 * two worker processes, the sandbox with 40 ms latency, 10 % 5xx and a rate limit; a worker killed
 * with SIGKILL, Redis flushed and PostgreSQL restarted during the job. Prints companies, faults,
 * lost companies (must be 0), duplicated provider calls and time to recover from each fault.
 * Size with BENCH_CHAOS_COMPANIES (default 5,000).
 */
import { sql } from 'drizzle-orm';
import { redisServerAvailable, runChaos } from '../apps/server/test/chaos-run';

const COMPANIES = Number(process.env.BENCH_CHAOS_COMPANIES ?? 5_000);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (!(await redisServerAvailable())) {
  console.error('bench:chaos needs redis-server on the PATH (it starts its own, on port 6392).');
  process.exit(2);
}
const result = await runChaos({
  companies: COMPANIES,
  workerConcurrency: 100,
  pgPort: 54_352,
  redisPort: 6_392,
  waitFor,
});
try {
  const { job } = result;
  const finished = job.counts.enriched + job.counts.not_found + job.counts.failed;
  const mismatched = await result.withDatabase(async (db) => {
    const r = await db.execute<{ n: number }>(sql`
      select count(*)::int as n from jobs j
      where j.queued_count + j.processing_count + j.enriched_count + j.not_found_count + j.failed_count
            + j.cancelled_count <> (select count(*) from companies c where c.job_id = j.id)`);
    return r.rows[0]?.n ?? -1;
  });
  console.log(`companies: ${result.companies}`);
  console.log(`faults injected: ${result.faults.join(', ')}`);
  console.log(`lost (not finished): ${result.companies - finished}`);
  console.log(
    `failed: ${job.counts.failed}; jobs whose counters disagree with their companies: ${mismatched}`,
  );
  console.log(
    `businesses enriched more than once: ${result.enrichedTwice}; provider calls: ${result.providerCalls}`,
  );
  console.log(
    `time to first progress after each fault: ${result.recoverySeconds.map((s) => `${s.toFixed(1)} s`).join(', ')}`,
  );
  console.log(`total: ${result.seconds.toFixed(1)} s`);
} finally {
  await result.cleanup();
}
process.exit(0);
