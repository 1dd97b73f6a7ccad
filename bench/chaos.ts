/**
 * `npm run bench:chaos`: every fault at full length, each striking its own job once a third of it
 * is done, with the system at its default settings (see apps/server/test/chaos-run.ts): a worker
 * killed with SIGKILL, Redis flushed, PostgreSQL stopped for 10 s, Redis down for 60 s, the
 * feeding worker frozen (SIGSTOP) for 3 minutes. The sandbox answers after 40 ms, 10 % of calls
 * with a 5xx, within 1,200 requests a minute.
 *
 * Prints, per fault: companies lost and failed, seconds to finish after the fault (and the work
 * the job had left), companies paid twice (and how many calls in flight at the fault can explain),
 * ledger against the provider's own count. Exits 1 if any promise is broken: a company lost, a
 * company paid twice beyond the calls in flight, a ledger that differs from the provider's count
 * (calls exactly; credits exactly, but for calls a killed worker left open, which hold the most
 * they may have billed), a job that waited for a dead or frozen worker.
 *
 * BENCH_CHAOS_COMPANIES (default 5,000) sizes each job; BENCH_CHAOS_FAULTS picks faults (comma-separated).
 */
import {
  brokenPromises,
  FAULTS,
  type Fault,
  redisServerAvailable,
  runChaos,
} from '../apps/server/test/chaos-run';

const COMPANIES = Number(process.env.BENCH_CHAOS_COMPANIES ?? 5_000);
const faults = (process.env.BENCH_CHAOS_FAULTS?.split(',') ?? [...FAULTS]) as Fault[];
for (const f of faults) {
  if (!FAULTS.includes(f)) {
    console.error(`unknown fault ${f}: one of ${FAULTS.join(', ')}`);
    process.exit(2);
  }
}

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
const started = performance.now();
const { results, cleanup } = await runChaos({
  companies: COMPANIES,
  faults,
  pgPort: 54_352,
  redisPort: 6_392,
  sandbox: { latencyMs: 40, errorRate: 0.1, rateLimitPerMin: 1_200 },
  postgresDownMs: 10_000,
  redisDownMs: 60_000,
  freezeMs: 180_000,
  waitFor,
  log: (line) => console.error(line),
});
await cleanup();

const broken: string[] = [];
console.log(
  `companies per job: ${COMPANIES}; system at default settings; total ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
console.log(
  '| fault | lost | failed | to finish after the fault (work left) | first progress | paid twice (in flight) | ledger calls / provider | ledger credits / provider |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.fault} | ${r.lost} | ${r.failed} | ${r.secondsToFinish.toFixed(1)} s (${r.secondsOfWorkLeft.toFixed(1)} s) | ${r.secondsToProgress.toFixed(1)} s | ${r.paidTwice} (${r.paidTwiceInFlight}) | ${r.ledger.calls} / ${r.provider.calls} | ${r.ledger.credits}${r.ledger.held ? ` (+ ${r.ledger.held} held)` : ''} / ${r.provider.credits} |`,
  );
  broken.push(...brokenPromises(r).map((b) => `${r.fault}: ${b}`));
}
if (broken.length > 0) {
  console.log(`\nBROKEN:\n- ${broken.join('\n- ')}`);
  process.exit(1);
}
console.log(
  '\nevery promise held: nothing lost, nothing paid twice beyond calls in flight, ledger = provider',
);
process.exit(0);
