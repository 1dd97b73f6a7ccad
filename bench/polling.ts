/**
 * `npm run bench:polling`: what polling a job costs the API, on PostgreSQL (DATABASE_URL) and
 * Redis (REDIS_URL). One API process (started as `npm run start:api` starts it) and a Fastify
 * hello-world process (same node flags) are measured in the same run, each by this process with
 * BENCH_POLLING_CONNECTIONS keep-alive connections for BENCH_POLLING_SECONDS per endpoint; every
 * figure is printed as requests a second and as a ratio to the hello-world (measured before and
 * after, averaged), so machines compare. Goals: GET /jobs/{id} >= 0.15x, a 50-row companies page
 * >= 0.08x, a 304 >= 0.2x.
 *
 * Then one tab on a running job: the page's polling (the job and the changed rows of its loaded
 * page every 2 s, with If-None-Match and gzip/br, as apps/web does) against a job the provider
 * paces to about 25 companies a second, for BENCH_TAB_SECONDS; prints bytes a minute received
 * (status line, headers and body as sent) and sent. Goal: <= 100 KB a minute.
 *
 * The API's own per-key rate limit is off (API_RATE_LIMIT_PER_MIN=0): at 1,200 a minute it would
 * answer the load with 429s. Logs are at the production default level, written to /dev/null.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Company, CompanyList, Job } from '@gtm-enrich/contracts';
import { Pool } from 'undici';
import { startSandboxServer } from '../apps/server/src/providers/sandbox/sandbox-server';
import { withFreshDatabase } from './support';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
if (!DATABASE_URL || !REDIS_URL) {
  console.error('bench:polling needs DATABASE_URL and REDIS_URL (a real PostgreSQL and Redis).');
  process.exit(2);
}
const SECONDS = Number(process.env.BENCH_POLLING_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_POLLING_CONNECTIONS ?? 32);
const TAB_SECONDS = Number(process.env.BENCH_TAB_SECONDS ?? 60);
/** BENCH_POLLING_ONLY: comma-separated parts of the endpoints' names to measure (e.g. `304`); all when empty. */
const ONLY = (process.env.BENCH_POLLING_ONLY ?? '').split(',').filter(Boolean);
const COMPANIES = 2_000;
const POLL_MS = 2_000;
/** What apps/web asks again: rows changed in the last seconds before the newest it has seen. */
const CHANGE_OVERLAP_MS = 10_000;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = 'gtm_bench-polling-key-0123456789abcdefghijklmno';
const AUTH = { authorization: `Bearer ${API_KEY}` };

/** `npm run start:<role>` as a node command line: the same flags as in production. */
function scriptArgs(name: 'start:api' | 'start:worker'): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const [runner, ...rest] = (pkg.scripts[name] as string).split(' ');
  if (runner !== 'node') throw new Error(`${name} no longer runs node`);
  return rest;
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Logs go nowhere; a process that exits early says why (its last lines of output). */
function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code, signal) => {
    if (!stopping.has(child)) console.error(`${args.at(-1)} exited (${code ?? signal}):\n${tail}`);
  });
  return child;
}

/** Processes this bench stopped: their exit is no news (they handle SIGTERM and exit 0). */
const stopping = new WeakSet<ChildProcess>();

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  stopping.add(child);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function waitFor(url: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url, { headers })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within 30 s`);
}

type PerConnection<T> = T | ((connection: number) => T);
const forConnection = <T>(value: PerConnection<T>, i: number): T =>
  typeof value === 'function' ? (value as (connection: number) => T)(i) : value;

/**
 * Requests a second on `path`, CONNECTIONS at a time, for SECONDS after a one-second warm-up. A
 * path (and headers) per connection: polls of different things, which share no read.
 */
async function measure(
  origin: string,
  path: PerConnection<string>,
  headers: PerConnection<Record<string, string>>,
  status = 200,
) {
  const pool = new Pool(origin, { connections: CONNECTIONS, pipelining: 1 });
  const run = async (ms: number) => {
    let done = 0;
    let wrong = 0;
    const until = performance.now() + ms;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) => {
        const request = {
          path: forConnection(path, i),
          method: 'GET' as const,
          headers: forConnection(headers, i),
        };
        while (performance.now() < until) {
          const res = await pool.request(request);
          await res.body.dump();
          if (res.statusCode === status) done++;
          else wrong++;
        }
      }),
    );
    if (wrong > 0) throw new Error(`${forConnection(path, 0)}: ${wrong} answers were not ${status}`);
    return done / (ms / 1000);
  };
  await run(1_000);
  const perSecond = await run(SECONDS * 1_000);
  await pool.close();
  return perSecond;
}

async function decode(body: Buffer, encoding: string | undefined) {
  const zlib = await import('node:zlib');
  if (encoding === 'br') return zlib.brotliDecompressSync(body).toString('utf8');
  if (encoding === 'gzip') return zlib.gunzipSync(body).toString('utf8');
  return body.toString('utf8');
}

/**
 * One tab on a running job, polling as apps/web polls: the job with If-None-Match; the first page
 * of companies once, then the rows of that page changed since the newest seen (minus the overlap).
 */
async function simulateTab(origin: string, jobId: string, seconds: number) {
  let received = 0;
  let sent = 0;
  let requests = 0;
  let notModified = 0;
  const get = async (path: string, etag: string | null) => {
    type Answer = {
      status: number;
      etag: string | null;
      body: Buffer;
      received: number;
      sent: number;
      encoding?: string;
    };
    const res = await new Promise<Answer>((resolve, reject) => {
      const url = `${origin}${path}`;
      const headers: Record<string, string> = { ...AUTH, accept: 'application/json' };
      if (etag) headers['if-none-match'] = etag;
      const req = http.get(url, { headers: { ...headers, 'accept-encoding': 'gzip, deflate, br' } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => {
          const body = Buffer.concat(chunks);
          const head =
            `HTTP/1.1 ${r.statusCode} ${r.statusMessage}\r\n`.length +
            r.rawHeaders.reduce((n, h) => n + h.length + 2, 0) +
            2;
          resolve({
            status: r.statusCode ?? 0,
            etag: (r.headers.etag as string | undefined) ?? null,
            body,
            received: head + body.length,
            sent:
              `GET ${path} HTTP/1.1\r\nhost: ${new URL(origin).host}\r\n`.length +
              Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0) +
              'accept-encoding: gzip, deflate, br\r\nconnection: keep-alive\r\n\r\n'.length,
            encoding: r.headers['content-encoding'] as string | undefined,
          });
        });
      });
      req.on('error', reject);
    });
    received += res.received;
    sent += res.sent;
    requests++;
    if (res.status === 304) notModified++;
    return res;
  };
  let jobTag: string | null = null;
  const first = await get(`/api/v1/jobs/${jobId}/companies?limit=50`, null);
  const loaded = new Map<string, Company>();
  for (const c of (JSON.parse(await decode(first.body, first.encoding)) as CompanyList).data)
    loaded.set(c.id, c);
  const maxRow = Math.max(...[...loaded.values()].map((c) => c.row_number));
  let changesTag: string | null = null;
  let job: Job | null = null;
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const j = await get(`/api/v1/jobs/${jobId}`, jobTag);
    if (j.status === 200) {
      jobTag = j.etag;
      job = JSON.parse(await decode(j.body, j.encoding)) as Job;
    }
    const newest = Math.max(...[...loaded.values()].map((c) => Date.parse(c.updated_at)));
    const since = new Date(newest - CHANGE_OVERLAP_MS).toISOString();
    const changes = await get(
      `/api/v1/jobs/${jobId}/companies?updated_since=${encodeURIComponent(since)}&max_row=${maxRow}&limit=500`,
      changesTag,
    );
    if (changes.status === 200) {
      changesTag = changes.etag;
      for (const c of (JSON.parse(await decode(changes.body, changes.encoding)) as CompanyList).data) {
        loaded.set(c.id, c);
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return { received, sent, requests, notModified, job };
}

const domains = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i.toString(36)}-${randomBytes(2).toString('hex')}.com`);

async function upload(origin: string, list: string[]): Promise<Job> {
  const form = new FormData();
  form.append('file', new File([['domain', ...list].join('\n')], 'bench.csv', { type: 'text/csv' }));
  const res = await fetch(`${origin}/api/v1/uploads`, { method: 'POST', body: form, headers: AUTH });
  if (!res.ok) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return (await res.json()) as Job;
}

async function jobStatus(origin: string, id: string): Promise<Job> {
  return (await (await fetch(`${origin}/api/v1/jobs/${id}`, { headers: AUTH })).json()) as Job;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

await withFreshDatabase(DATABASE_URL, async (databaseUrl) => {
  const fast = await startSandboxServer({ apiKey: 'sandbox' });
  // 60 calls a minute of 50 companies, two calls each: about 25 companies a second.
  const slow = await startSandboxServer({ apiKey: 'sandbox', rateLimitPerMin: 60, latencyMs: 300 });
  const [apiPort, helloPort] = [await freePort(), await freePort()];
  const common = {
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    REDIS_URL: REDIS_URL,
    QUEUE_PREFIX: `bench-polling-${randomBytes(4).toString('hex')}`,
    BOOTSTRAP_API_KEY: API_KEY,
    API_RATE_LIMIT_PER_MIN: '0',
    METRICS_PORT: '0',
  };
  // BENCH_API_NODE_ARGS: extra node flags for the API process (e.g. --cpu-prof).
  const apiArgs = [
    ...(process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ...scriptArgs('start:api'),
  ];
  const api = start(apiArgs, { ...common, PORT: String(apiPort), SANDBOX_URL: fast.url });
  let worker: ChildProcess | null = null;
  const helloArgs = scriptArgs('start:api').filter((a) => a.startsWith('--max'));
  const hello = spawn(
    process.execPath,
    [
      ...helloArgs,
      '--input-type=module',
      '-e',
      `import Fastify from 'fastify'; const app = Fastify(); app.get('/', async () => ({ hello: 'world' })); await app.listen({ port: ${helloPort}, host: '127.0.0.1' });`,
    ],
    { cwd: `${ROOT}apps/server`, stdio: 'ignore' },
  );
  const origin = `http://127.0.0.1:${apiPort}`;
  const helloOrigin = `http://127.0.0.1:${helloPort}`;
  try {
    await waitFor(`${helloOrigin}/`);
    await waitFor(`${origin}/api/v1/me`, AUTH);
    // After the API: both would otherwise create the bootstrap key at once, and one would fail.
    worker = start(scriptArgs('start:worker'), { ...common, SANDBOX_URL: fast.url });
    const job = await upload(origin, domains('poll', COMPANIES));
    for (
      let s = await jobStatus(origin, job.id);
      s.status !== 'completed';
      s = await jobStatus(origin, job.id)
    ) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const page = `/api/v1/jobs/${job.id}/companies?limit=50`;
    const pageRes = await fetch(`${origin}${page}`, { headers: AUTH });
    const pageTag = pageRes.headers.get('etag')!;
    const pageBytes = (await pageRes.text()).length;
    const jobTag = (await fetch(`${origin}/api/v1/jobs/${job.id}`, { headers: AUTH })).headers.get('etag')!;
    const json = { ...AUTH, accept: 'application/json', 'accept-encoding': 'gzip, br' };
    // Polls of one page share reads (http/coalesced-reads.ts); these polls, each of its own page, do not.
    const pageOf = (i: number) => `/api/v1/jobs/${job.id}/companies?limit=50&min_row=${1 + 50 * i}`;
    const pageTags = await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, i) =>
        (await fetch(`${origin}${pageOf(i)}`, { headers: AUTH })).headers.get('etag'),
      ),
    );
    const endpoints: [string, () => Promise<number>][] = [
      ['GET /api/v1/me', () => measure(origin, '/api/v1/me', json)],
      ['GET /api/v1/jobs/{id}', () => measure(origin, `/api/v1/jobs/${job.id}`, json)],
      [
        'GET /api/v1/jobs/{id} -> 304',
        () => measure(origin, `/api/v1/jobs/${job.id}`, { ...json, 'if-none-match': jobTag }, 304),
      ],
      ['GET companies, 50 rows', () => measure(origin, page, json)],
      [
        'GET companies, 50 rows -> 304',
        () => measure(origin, page, { ...json, 'if-none-match': pageTag }, 304),
      ],
      [
        'GET companies, 50 rows sorted by name',
        () => measure(origin, `/api/v1/jobs/${job.id}/companies?limit=50&sort=name`, json),
      ],
      ['GET companies, a page per connection', () => measure(origin, pageOf, json)],
      [
        'GET companies, a page per connection -> 304',
        () => measure(origin, pageOf, (i) => ({ ...json, 'if-none-match': pageTags[i]! }), 304),
      ],
    ];
    const helloBefore = await measure(helloOrigin, '/', {});
    const results: [string, number][] = [];
    for (const [name, run] of endpoints) {
      if (ONLY.length === 0 || ONLY.some((part) => name.includes(part))) results.push([name, await run()]);
    }
    const helloAfter = await measure(helloOrigin, '/', {});
    const helloRate = (helloBefore + helloAfter) / 2;
    console.log(
      `Fastify hello-world: ${fmt(helloRate)} requests/s (${fmt(helloBefore)} before, ${fmt(helloAfter)} after); ` +
        `${CONNECTIONS} connections, ${SECONDS} s each, one API process, a ${fmt(COMPANIES)}-company job`,
    );
    for (const [name, rate] of results) {
      console.log(`${name.padEnd(40)} ${fmt(rate).padStart(8)} requests/s  ${fmt(rate / helloRate, 3)}x`);
    }
    console.log(`(a 50-row page is ${fmt(pageBytes)} bytes of JSON before compression)`);

    // One tab on a running job.
    await stop(worker);
    worker = start(scriptArgs('start:worker'), { ...common, SANDBOX_URL: slow.url });
    const running = await upload(origin, domains('tab', 6_000));
    const tab = await simulateTab(origin, running.id, TAB_SECONDS);
    const perMinute = (bytes: number) => (bytes / TAB_SECONDS) * 60;
    const done = tab.job ? tab.job.total - tab.job.counts.queued - tab.job.counts.processing : 0;
    console.log(
      `One tab on a running job (${fmt(done)} of ${fmt(running.total)} companies done in ${TAB_SECONDS} s): ` +
        `${fmt(perMinute(tab.received) / 1024, 1)} KB/min received, ${fmt(perMinute(tab.sent) / 1024, 1)} KB/min sent, ` +
        `${tab.requests} requests (${tab.notModified} answered 304)`,
    );
  } finally {
    await Promise.all([stop(api), worker ? stop(worker) : null, stop(hello)]);
    await fast.close();
    await slow.close();
  }
});
