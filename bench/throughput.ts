/**
 * `npm run bench:throughput`: how fast companies go through, and what they cost, on PostgreSQL
 * (DATABASE_URL) + Redis (REDIS_URL) with the sandbox as the provider. Prints, in one run:
 *   (a) bare BullMQ no-op tasks per second on this machine, drained from a full queue, and also
 *       added while processed (as (b) adds its tasks);
 *   (b) our companies per second end to end, provider at 0 ms and unlimited, with 1 and 2 worker
 *       processes, and the ratio to (a);
 *   (c) companies per minute against the sandbox enforcing 200 a minute with 150 ms latency,
 *       under each reading of the limit: counted in requests and in records, with
 *       X-RateLimit-Reset as the oldest counted call + 60 s and as now + 60 s. The ratio to the
 *       ceiling is the rate of units the sandbox counted (from its first counted call to its
 *       last, leaving out the last one's units) over its limit, with the 429s and the fullest
 *       window it saw;
 *   (d) provider calls per 1,000 unique uncached domains;
 *   (e) provider calls for re-running the same list.
 * Each measurement also prints the CPU it cost per task or company, process by process.
 * Sizes can be set with BENCH_NOOP_TASKS (a) and BENCH_COMPANIES (b), the same by default, and
 * BENCH_LIMITED_COMPANIES (c, counted in requests) and BENCH_LIMITED_RECORD_COMPANIES (c, counted
 * in records: 200 records a minute is about 100 companies). BENCH_LIMITED_UNITS picks (c)'s
 * units (default `request,record`), BENCH_LIMITED_RESETS its reset readings (default
 * `oldest,window`), BENCH_LIMIT_PER_MIN its limit (default 200). BENCH_WARMUP=N first runs N no-op tasks and N companies through
 * the same processes, to measure JIT-compiled code instead of code still being compiled.
 * BENCH_WORKERS picks (b)'s worker counts, BENCH_SKIP_LIMITED skips (c) to (e), and
 * BENCH_WORKER_NODE_ARGS adds node flags to the worker processes (e.g. --cpu-prof).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../apps/server/src/config';
import type { RateLimitUnit } from '../apps/server/src/providers/rate-limit/rate-limiter';
import {
  type SandboxRateLimitReset,
  type SandboxServer,
  startSandboxServer,
} from '../apps/server/src/providers/sandbox/sandbox-server';
import { createSystem, type System } from '../apps/server/src/system';
import { cpuPerItem, cpuSnapshot } from './cpu-usage';
import { withFreshDatabase } from './support';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
const NOOP_TASKS = Number(process.env.BENCH_NOOP_TASKS ?? 20_000);
const COMPANIES = Number(process.env.BENCH_COMPANIES ?? NOOP_TASKS);
const LIMITED_COMPANIES = Number(process.env.BENCH_LIMITED_COMPANIES ?? 10_000);
const LIMITED_RECORD_COMPANIES = Number(process.env.BENCH_LIMITED_RECORD_COMPANIES ?? 500);
const LIMITED_UNITS = (process.env.BENCH_LIMITED_UNITS ?? 'request,record')
  .split(',')
  .filter(Boolean) as RateLimitUnit[];
const LIMITED_RESETS = (process.env.BENCH_LIMITED_RESETS ?? 'oldest,window')
  .split(',')
  .filter(Boolean) as SandboxRateLimitReset[];
// The sandbox's limit in (c), by default Explorium's: 200 a minute per key. Under 50 counted in
// records, it also shows batches cut to the limit.
const LIMIT_PER_MIN = Number(process.env.BENCH_LIMIT_PER_MIN ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0);
// As in (b), whose dispatcher keeps at most DISPATCH_QUEUE_DEPTH (its default) tasks waiting.
const QUEUE_DEPTH = loadConfig({}).DISPATCH_QUEUE_DEPTH;
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 500);
// Worker processes for (b): `BENCH_WORKERS=1` runs only the one-worker case, `BENCH_WORKERS=` none.
const FAST_WORKERS = (process.env.BENCH_WORKERS ?? '1,2').split(',').filter(Boolean).map(Number);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = 'gtm_bench-admin-key-0123456789abcdefghijklmnopq';
const AUTH = { authorization: `Bearer ${API_KEY}` };

if (!DATABASE_URL || !REDIS_URL) {
  console.error('bench:throughput needs DATABASE_URL and REDIS_URL (a real PostgreSQL and Redis).');
  process.exit(2);
}

/** A worker process is started as `npm run start:worker` starts one: `node <flags> <file>`. */
const WORKER_ARGS = (() => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const script: string = pkg.scripts['start:worker'];
  const [runner, ...rest] = script.split(' ');
  if (runner !== 'node') throw new Error(`start:worker no longer runs node: ${script}`);
  return rest;
})();

const log = (msg: string) => console.log(msg);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

const withDatabase = <T>(fn: (url: string) => Promise<T>) => withFreshDatabase(DATABASE_URL!, fn);

/**
 * (a) BullMQ alone: no-op tasks through one worker process (this one) at our concurrency.
 * `drained`: the tasks are all added first and only their processing is timed. `flowing`: they
 * are added while the worker processes them, never more than DISPATCH_QUEUE_DEPTH waiting, as
 * the dispatcher adds companies during (b); the time covers adding and processing.
 */
async function bareBullmq(
  tasks: number,
  mode: 'drained' | 'flowing',
): Promise<{ perSecond: number; cpu: string }> {
  const prefix = `bench-noop-${randomBytes(4).toString('hex')}`;
  const connection = new Redis(REDIS_URL!, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix });
  const add = (from: number, count: number) =>
    queue.addBulk(
      Array.from({ length: count }, (_, j) => ({
        name: 'noop',
        data: { i: from + j },
        opts: { removeOnComplete: true, removeOnFail: true },
      })),
    );
  if (mode === 'drained') for (let i = 0; i < tasks; i += 1_000) await add(i, Math.min(1_000, tasks - i));
  let done = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const started = performance.now();
  const cpuBefore = await cpuSnapshot([], connection);
  const worker = new Worker(
    'noop',
    async () => {
      done++;
      if (done === tasks) allDone();
    },
    { connection: connection.duplicate(), prefix, concurrency: WORKER_CONCURRENCY },
  );
  for (let added = 0; mode === 'flowing' && added < tasks; ) {
    const room = Math.min(QUEUE_DEPTH - (await queue.getWaitingCount()), tasks - added, 1_000);
    if (room > 0) {
      await add(added, room);
      added += room;
    } else await new Promise((r) => setTimeout(r, 5));
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerItem(cpuBefore, await cpuSnapshot([], connection), tasks, 'this process', 'task');
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return { perSecond: tasks / seconds, cpu };
}

type Run = { system: System; baseUrl: string; workers: ChildProcess[]; redis: Redis; stop(): Promise<void> };

/** The api in this process, `workers` worker processes, a fresh database, one sandbox. */
async function startRun(
  databaseUrl: string,
  sandboxUrl: string,
  workers: number,
  env: Record<string, string>,
): Promise<Run> {
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const common = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: REDIS_URL!,
    QUEUE_PREFIX: prefix,
    SANDBOX_URL: sandboxUrl,
    WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
    BOOTSTRAP_API_KEY: API_KEY,
    ...env,
  };
  const config = loadConfig({ ...common, PORT: '0' });
  const system = await createSystem({
    config,
    logger: pino({ level: 'warn' }),
    databaseUrl,
    roles: { api: true, worker: false },
    providers: {
      available: [{ name: 'sandbox', baseUrl: sandboxUrl, apiKey: 'sandbox', stop: async () => {} }],
      waterfall: ['sandbox'],
      stop: async () => {},
    },
  });
  const baseUrl = (await system.start())!;
  const children = Array.from({ length: workers }, () =>
    spawn(
      process.execPath,
      [
        // Extra node flags for a measurement, e.g. --cpu-prof.
        ...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean),
        ...WORKER_ARGS,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...common, METRICS_PORT: '0' },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    ),
  );
  const redis = new Redis(REDIS_URL!);
  return {
    system,
    baseUrl,
    workers: children,
    redis,
    async stop() {
      redis.disconnect();
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(
        children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
      );
      await system.stop();
    },
  };
}

async function uploadAndWait(
  run: Run,
  domains: string[],
): Promise<{ job: Job; seconds: number; cpu: string }> {
  const form = new FormData();
  form.append('file', new File([['domain', ...domains].join('\n')], 'bench.csv', { type: 'text/csv' }));
  const res = await fetch(`${run.baseUrl}/api/v1/uploads`, { method: 'POST', body: form, headers: AUTH });
  if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  const created = (await res.json()) as Job;
  const started = performance.now();
  // The file is read before the answer (it is under UPLOAD_INLINE_MAX_ROWS): from here on, the
  // CPU the run spends is enrichment.
  const cpuBefore = await cpuSnapshot(
    run.workers.map((w) => w.pid!),
    run.redis,
  );
  for (;;) {
    const job = (await (
      await fetch(`${run.baseUrl}/api/v1/jobs/${created.id}`, { headers: AUTH })
    ).json()) as Job;
    if (job.status === 'completed' || job.status === 'paused') {
      // started_at..finished_at is the worker's time; the poll adds at most one interval.
      const seconds =
        job.started_at && job.finished_at
          ? (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000
          : (performance.now() - started) / 1000;
      const cpu = cpuPerItem(
        cpuBefore,
        await cpuSnapshot(
          run.workers.map((w) => w.pid!),
          run.redis,
        ),
        job.total,
        'api+sandbox',
      );
      return { job, seconds, cpu };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const domainsFor = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `bench-${tag}-${i}.com`);
const totalCalls = (s: { calls: Record<string, number> }) =>
  Object.values(s.calls).reduce((a, b) => a + b, 0);

/** (c), and (d) and (e) when `withCallCounts`: the job at the sandbox's limit, told that limit. */
async function ceilingRun(unit: RateLimitUnit, reset: SandboxRateLimitReset, withCallCounts: boolean) {
  const limited = await startSandboxServer({
    latencyMs: 150,
    rateLimitPerMin: LIMIT_PER_MIN,
    rateLimitUnit: unit,
    rateLimitReset: reset,
  });
  await withDatabase(async (url) => {
    const run = await startRun(url, limited.url, 2, {
      SANDBOX_RATE_LIMIT_PER_MIN: String(LIMIT_PER_MIN),
      SANDBOX_RATE_LIMIT_UNIT: unit,
    });
    try {
      const tag = `c-${unit}-${reset}`;
      const domains = domainsFor(tag, unit === 'request' ? LIMITED_COMPANIES : LIMITED_RECORD_COMPANIES);
      const { job, seconds } = await uploadAndWait(run, domains);
      const perMin = (job.total / seconds) * 60;
      const stats = limited.stats();
      log(
        `(c) sandbox at ${LIMIT_PER_MIN} ${unit}s/min, X-RateLimit-Reset = ${reset === 'oldest' ? 'oldest counted call' : 'now'} + 60 s, 150 ms: ` +
          `${fmt(perMin)} companies/min (${fmt(job.total)} in ${fmt(seconds, 1)} s); ` +
          `${ceilingFigures(stats.counted)}; failed ${job.counts.failed}; 429s ${stats.responses['429'] ?? 0}`,
      );
      if (!withCallCounts) return;
      const calls = totalCalls(stats);
      log(
        `(d) provider calls per 1,000 unique uncached domains: ${fmt((calls / job.total) * 1000, 1)} ` +
          `(match ${stats.calls.match}, bulk_enrich ${stats.calls.bulk_enrich} for ${fmt(job.total)} companies)`,
      );
      limited.reset();
      const again = await uploadAndWait(run, domains);
      log(
        `(e) provider calls to re-run the same list: ${totalCalls(limited.stats())} ` +
          `(${fmt(again.job.usage.cache_hits)} cache hits)`,
      );
    } finally {
      await run.stop();
    }
  });
  await limited.close();
}

/** Units the sandbox counted per minute against its limit, and its fullest window. */
function ceilingFigures(counted: ReturnType<SandboxServer['stats']>['counted']): string {
  const spanMs = (counted.lastAt ?? 0) - (counted.firstAt ?? 0);
  if (spanMs <= 0) return 'too few calls to measure a rate';
  const perMin = ((counted.units - counted.lastUnits) / spanMs) * 60_000;
  return (
    `${fmt(perMin, 1)} units/min counted, ${fmt(perMin / LIMIT_PER_MIN, 3)} of the ceiling; ` +
    `fullest window ${counted.peakWindowUnits} of ${LIMIT_PER_MIN}`
  );
}

async function main() {
  log(`machine: ${process.platform} ${process.arch}, node ${process.version}`);

  if (WARMUP > 0) await bareBullmq(WARMUP, 'drained');
  const bare = await bareBullmq(NOOP_TASKS, 'drained');
  const noop = bare.perSecond;
  log(
    `(a) bare BullMQ no-op tasks: ${fmt(noop)} /s (${fmt(NOOP_TASKS)} tasks, concurrency ${WORKER_CONCURRENCY})`,
  );
  log(`    ${bare.cpu}`);
  if (WARMUP > 0) await bareBullmq(WARMUP, 'flowing');
  const flowing = await bareBullmq(NOOP_TASKS, 'flowing');
  log(
    `    added while processed, at most ${fmt(QUEUE_DEPTH)} waiting (as (b) adds its tasks): ${fmt(flowing.perSecond)} /s`,
  );
  log(`    ${flowing.cpu}`);

  const fast = await startSandboxServer({ latencyMs: 0 });
  for (const workers of FAST_WORKERS) {
    await withDatabase(async (url) => {
      const run = await startRun(url, fast.url, workers, {});
      try {
        if (WARMUP > 0) await uploadAndWait(run, domainsFor(`warm${workers}`, WARMUP));
        fast.reset();
        const { job, seconds, cpu } = await uploadAndWait(run, domainsFor(`b${workers}`, COMPANIES));
        const calls = totalCalls(fast.stats());
        const rate = job.total / seconds;
        log(
          `(b) ${workers} worker process${workers > 1 ? 'es' : ''}: ${fmt(rate)} companies/s ` +
            `(${fmt(job.total)} in ${fmt(seconds, 1)} s; ${fmt(rate / noop, 2)} of (a); ` +
            `${fmt(rate / flowing.perSecond, 2)} of (a) with its tasks added while processed)`,
        );
        log(`    ${cpu}; ${fmt((calls / job.total) * 1000, 1)} provider calls per 1,000`);
      } finally {
        await run.stop();
      }
    });
  }
  await fast.close();

  if (process.env.BENCH_SKIP_LIMITED) process.exit(0);
  // (d) and (e) come from the first run of (c): a fresh database, every domain uncached.
  let first = true;
  for (const unit of LIMITED_UNITS) {
    for (const reset of LIMITED_RESETS) {
      await ceilingRun(unit, reset, first);
      first = false;
    }
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
