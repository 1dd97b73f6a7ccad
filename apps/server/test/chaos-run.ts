/**
 * Chaos, done for real, shared by the test (chaos.test.ts, a few minutes) and the benchmark
 * (bench/chaos.ts, every fault at full length): an API, two worker processes at their default
 * settings, the sandbox with latency, 5xx answers and a rate limit. Each fault strikes its own job
 * once a third of it is done: a worker killed with SIGKILL, Redis flushed, PostgreSQL stopped and
 * started again, Redis down, the feeding worker frozen with SIGSTOP. Runs its own PostgreSQL
 * (embedded) and Redis server, so that stopping them disturbs nothing beside it.
 *
 * For each fault it measures what a paying user cares about: companies lost or failed, how long
 * the job took to finish after the fault, companies the provider billed twice, and the ledger
 * against the provider's own count of calls and credits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/database';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { type SandboxStats, startSandboxServer } from '../src/providers/sandbox/sandbox-server';
import { createSystem, type System } from '../src/system';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ADMIN_KEY = 'gtm_chaos-admin-key-0123456789abcdefghijklmnopq';
const DEFAULTS = loadConfig({});

export const FAULTS = [
  'kill-worker',
  'flush-redis',
  'restart-postgres',
  'redis-down',
  'freeze-feeder',
] as const;
export type Fault = (typeof FAULTS)[number];

export type ChaosOptions = {
  /** Companies in each fault's job. */
  companies: number;
  faults: readonly Fault[];
  pgPort: number;
  redisPort: number;
  sandbox: { latencyMs: number; errorRate: number; rateLimitPerMin: number };
  /** How long PostgreSQL stays stopped (restart-postgres). */
  postgresDownMs: number;
  /** How long Redis stays down (redis-down). */
  redisDownMs: number;
  /** How long the feeder stays frozen (freeze-feeder). */
  freezeMs: number;
  /** Waits for a condition; the test passes expect.poll, the benchmark a plain loop. */
  waitFor: (what: string, check: () => Promise<boolean>, timeoutMs: number) => Promise<void>;
  log?: (line: string) => void;
};

export type FaultResult = {
  fault: Fault;
  companies: number;
  /** Companies not in a final state when the job was given up on (must be 0). */
  lost: number;
  failed: number;
  /** The job's counters disagree with its companies (must be false). */
  countersDisagree: boolean;
  /** From the fault to the job's completion. */
  secondsToFinish: number;
  /** What the job had left at the fault, at the speed it ran before it. */
  secondsOfWorkLeft: number;
  /** From the fault to the next company finished. */
  secondsToProgress: number;
  /** Businesses the provider enriched (billed) more than once for this job. */
  paidTwice: number;
  /**
   * Of those, the most that calls in flight when a worker died (calls left open in the ledger) or
   * froze past its lease (calls that lasted longer than a lease) can explain: the provider answered
   * a process that could not act on the answer. Nothing else may be paid twice.
   */
  paidTwiceInFlight: number;
  /**
   * Calls, and credits of the calls closed with what they billed; `held`: credits of calls left
   * open by a killed worker, the most they may have billed (nobody can know what they did).
   */
  ledger: { calls: number; credits: number; held: number };
  provider: { calls: number; credits: number };
};

export async function redisServerAvailable(): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const p = spawn('redis-server', ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('exit', (code) => resolve(code === 0));
  });
}

/** What a fault's result breaks of the promises (empty when it keeps them all). */
export function brokenPromises(r: FaultResult, leaseMs = DEFAULTS.CLAIM_LEASE_MS): string[] {
  const broken: string[] = [];
  if (r.lost > 0) broken.push(`${r.lost} companies lost`);
  if (r.countersDisagree) broken.push('job counters disagree with its companies');
  if (r.paidTwice > r.paidTwiceInFlight)
    broken.push(`${r.paidTwice} paid twice, only ${r.paidTwiceInFlight} in flight at the fault`);
  if (r.ledger.calls !== r.provider.calls)
    broken.push(`ledger ${r.ledger.calls} calls, provider ${r.provider.calls}`);
  if (r.provider.credits < r.ledger.credits || r.provider.credits > r.ledger.credits + r.ledger.held)
    broken.push(
      `ledger ${r.ledger.credits} credits (+ ${r.ledger.held} held by calls left open), provider ${r.provider.credits}`,
    );
  // A killed worker's companies run again within a lease and a sweep; the job ends within 90 s
  // of the fault beyond the work it had left.
  if (r.fault === 'kill-worker' && r.secondsToFinish > 90 + r.secondsOfWorkLeft)
    broken.push(`finished ${r.secondsToFinish.toFixed(0)} s after the kill (> 90 s + work left)`);
  if (r.fault === 'freeze-feeder' && r.secondsToFinish * 1000 > 4 * leaseMs + r.secondsOfWorkLeft * 1000)
    broken.push(
      `finished ${r.secondsToFinish.toFixed(0)} s after the freeze: it waited for the frozen feeder`,
    );
  return broken;
}

type Worker = { child: ChildProcess; processId: Promise<string> };

export async function runChaos(
  opts: ChaosOptions,
): Promise<{ results: FaultResult[]; cleanup(): Promise<void> }> {
  const log = opts.log ?? (() => {});
  const dir = await mkdtemp(path.join(tmpdir(), 'gtm-chaos-'));
  await chmod(dir, 0o755);
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>> | null = null;
  let sandbox: Awaited<ReturnType<typeof startSandboxServer>> | null = null;
  let api: System | null = null;
  const workers: Worker[] = [];
  const redisUrl = `redis://127.0.0.1:${opts.redisPort}`;
  let redis: ChildProcess | null = null;
  const redisReady = async () => {
    const r = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null });
    r.on('error', () => undefined); // refused until the server is up: that is what we wait for
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      r.disconnect();
    }
  };
  const startRedis = async () => {
    redis = spawn(
      'redis-server',
      ['--port', String(opts.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await opts.waitFor('redis up', redisReady, 10_000);
  };
  const cleanup = async () => {
    for (const w of workers) {
      w.child.kill('SIGCONT');
      w.child.kill('SIGKILL');
    }
    await api?.stop().catch(() => undefined);
    await sandbox?.close();
    redis?.kill('SIGKILL');
    await pg?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  let env: Record<string, string> = {};
  const startWorker = (): Worker => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'apps/server/src/main-worker.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    // The worker's id is on its "worker ready" line; the rest of its log is read and dropped.
    const processId = new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.includes('"process_id"')) return;
        try {
          resolve((JSON.parse(line) as { process_id: string }).process_id);
        } catch (err) {
          reject(err);
        }
      });
      child.on('exit', () => reject(new Error('worker exited before it was ready')));
    });
    processId.catch(() => {});
    const worker = { child, processId };
    workers.push(worker);
    return worker;
  };
  try {
    pg = await startEmbeddedPostgres({ dataDir: dir, port: opts.pgPort, log: () => {} });
    await startRedis();
    sandbox = await startSandboxServer(opts.sandbox);
    // Everything else at its default: the faults are judged as an installation runs them.
    env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: pg.url,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: 'chaos',
      SANDBOX_URL: sandbox.url,
      SANDBOX_RATE_LIMIT_PER_MIN: String(opts.sandbox.rateLimitPerMin),
      BOOTSTRAP_API_KEY: ADMIN_KEY,
      METRICS_PORT: '0',
    };
    api = await createSystem({
      config: loadConfig({ ...env, PORT: '0' }),
      logger: pino({ level: 'silent' }),
      databaseUrl: pg.url,
      roles: { api: true, worker: false },
      providers: {
        available: [{ name: 'sandbox', baseUrl: sandbox.url, apiKey: 'sandbox', stop: async () => {} }],
        waterfall: ['sandbox'],
        stop: async () => {},
      },
    });
    const baseUrl = (await api.start())!;
    const alive = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const db = () => connectDatabase(pg!.url, { poolSize: 1 });
    const query = async <T extends Record<string, unknown>>(q: ReturnType<typeof sql>) => {
      const handle = db();
      try {
        return (await handle.db.execute<T>(q)).rows;
      } finally {
        await handle.close();
      }
    };
    startWorker();
    startWorker();
    await Promise.all(workers.map((w) => w.processId));
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const getJob = async (id: string): Promise<Job | null> => {
      try {
        const res = await fetch(`${baseUrl}/api/v1/jobs/${id}`, { headers: auth });
        return res.ok ? ((await res.json()) as Job) : null;
      } catch {
        return null; // PostgreSQL is away: ask again.
      }
    };
    const done = (j: Job | null) => (j ? j.counts.enriched + j.counts.not_found + j.counts.failed : 0);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    const strike = async (fault: Fault): Promise<() => Promise<void>> => {
      switch (fault) {
        case 'kill-worker': {
          alive()[0]!.child.kill('SIGKILL');
          // A replacement for the next jobs, started once this one is over.
          return async () => {
            startWorker();
            await Promise.all(alive().map((w) => w.processId));
          };
        }
        case 'flush-redis': {
          const r = new Redis(redisUrl);
          await r.flushall();
          r.disconnect();
          return async () => {};
        }
        case 'restart-postgres': {
          await pg!.stop();
          await sleep(opts.postgresDownMs);
          pg = await startEmbeddedPostgres({ dataDir: dir, port: opts.pgPort, log: () => {} });
          return async () => {};
        }
        case 'redis-down': {
          redis?.kill('SIGKILL');
          await sleep(opts.redisDownMs);
          await startRedis();
          return async () => {};
        }
        case 'freeze-feeder': {
          const [row] = await query<{ holder: string }>(
            sql`select holder from role_leases where role = 'feeder'`,
          );
          const ids = await Promise.all(alive().map(async (w) => [await w.processId, w] as const));
          const feeder = ids.find(([id]) => id === row?.holder)?.[1];
          if (!feeder) throw new Error('no live worker holds the feeder role');
          feeder.child.kill('SIGSTOP');
          const frozenAt = performance.now();
          // Thawed once its freeze is over (after the job, which must not wait for it); what it
          // does with the answers it held is part of the job's figures.
          return async () => {
            await sleep(Math.max(0, opts.freezeMs - (performance.now() - frozenAt)));
            feeder.child.kill('SIGCONT');
            await sleep(10_000);
          };
        }
      }
    };

    const results: FaultResult[] = [];
    for (const fault of opts.faults) {
      const before = structuredClone(sandbox!.stats());
      const form = new FormData();
      const domains = Array.from({ length: opts.companies }, (_, i) => `chaos-${fault}-${i}.com`);
      form.append(
        'file',
        new File([['domain', ...domains].join('\n')], `${fault}.csv`, { type: 'text/csv' }),
      );
      const res = await fetch(`${baseUrl}/api/v1/uploads`, { method: 'POST', body: form, headers: auth });
      const created = (await res.json()) as Job;
      if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${JSON.stringify(created)}`);
      const id = created.id;

      await opts.waitFor('the job started', async () => done(await getJob(id)) > 0, 120_000);
      const startedAt = performance.now();
      await opts.waitFor(
        `a third of the ${fault} job done`,
        async () => done(await getJob(id)) >= opts.companies / 3,
        300_000,
      );
      const doneAtFault = done(await getJob(id));
      const faultAt = performance.now();
      const rate = doneAtFault / ((faultAt - startedAt) / 1000);
      log(`${fault}: striking at ${doneAtFault} of ${opts.companies} done`);
      const afterJob = await strike(fault);
      const struckAt = performance.now();
      let progressAt: number | null = null;
      await opts.waitFor(
        `the ${fault} job completed`,
        async () => {
          const job = await getJob(id);
          if (progressAt === null && done(job) > doneAtFault) progressAt = performance.now();
          return job?.status === 'completed';
        },
        600_000,
      );
      const completedAt = performance.now();
      await afterJob();
      const job = (await getJob(id))!;
      const after = sandbox!.stats();

      const [ledger] = await query<{ calls: number; credits: number; held: number; in_flight: number }>(sql`
        select count(distinct coalesce(call_id::text, id::text))::int as calls,
               coalesce(sum(credits) filter (where status is not null), 0)::int as credits,
               coalesce(sum(credits) filter (where status is null), 0)::int as held,
               coalesce(sum(items) filter (
                 where endpoint = 'bulk_enrich' and (status is null or duration_ms >= ${DEFAULTS.CLAIM_LEASE_MS})
               ), 0)::int as in_flight
        from provider_calls where job_id = ${id}`);
      const [counters] = await query<{ disagree: boolean }>(sql`
        select j.queued_count + j.processing_count + j.enriched_count + j.not_found_count + j.failed_count
               + j.cancelled_count <> (select count(*) from companies c where c.job_id = j.id)
            or j.processing_count <> (select count(*) from companies c where c.job_id = j.id and c.status = 'processing')
            as disagree
        from jobs j where j.id = ${id}`);
      results.push({
        fault,
        companies: opts.companies,
        lost: opts.companies - done(job),
        failed: job.counts.failed,
        countersDisagree: counters?.disagree ?? true,
        secondsToFinish: (completedAt - faultAt) / 1000,
        secondsOfWorkLeft: (opts.companies - doneAtFault) / rate,
        secondsToProgress: ((progressAt ?? completedAt) - struckAt) / 1000,
        paidTwice: paidTwice(before, after),
        paidTwiceInFlight: ledger?.in_flight ?? 0,
        ledger: { calls: ledger?.calls ?? 0, credits: ledger?.credits ?? 0, held: ledger?.held ?? 0 },
        provider: {
          calls: sum(after.calls) - sum(before.calls),
          credits: after.creditsUsed - before.creditsUsed,
        },
      });
      log(`${fault}: ${JSON.stringify(results.at(-1))}`);
    }
    return { results, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Businesses enriched more than once between two snapshots of the sandbox's counts. */
function paidTwice(before: SandboxStats, after: SandboxStats): number {
  let n = 0;
  for (const [id, count] of Object.entries(after.businessIdsEnriched)) {
    if (count - (before.businessIdsEnriched[id] ?? 0) > 1) n++;
  }
  return n;
}
