/**
 * `npm run bench:ingest`: how fast an upload is accepted, and in how much memory. Needs
 * DATABASE_URL and REDIS_URL (the api process of the distributed mode). For each size (default
 * 100,000 and 1,000,000 rows; BENCH_INGEST_ROWS=a,b to change) it:
 *   - writes a CSV export with realistic mess to a temporary file: six columns, websites spelled
 *     every way (scheme, www., paths, case, emails), ~20 % duplicates of earlier companies under
 *     another spelling, ~5 % rows without a usable domain, quoted cells with commas and newlines;
 *   - times a raw COPY of that file (FORMAT csv) into a plain table of the same columns, in the
 *     same database, from this process: the floor for getting those bytes into PostgreSQL; and
 *     three COPYs into a table of one column, whose median is the floor of the read;
 *   - spawns `npm run start:api` and `npm run start:worker` as their own processes on a fresh
 *     database, uploads the file to the API (streamed from disk), and prints the time to the 202
 *     (the whole file checked and stored), its ratio to the raw COPY and the API's peak RSS, then
 *     the time until the worker has read the file into rows and companies (the job leaves
 *     `ingesting`), rows/s over that whole time, the CPU seconds the worker and PostgreSQL's
 *     backends spent on it with the machine's load average (times on shared cores move with the
 *     load, CPU seconds far less), and the worker's peak RSS (VmHWM from /proc; fresh processes
 *     per size). The worker's provider is a closed port: enrichment is not measured here.
 *   - then (unless BENCH_INGEST_EXPORT=0) downloads the row export of the job (`export.csv?layout=rows`,
 *     every row of the file with its enrichment columns) and prints its time and the API's peak RSS
 *     after it.
 * BENCH_WORKER_NODE_ARGS and BENCH_API_NODE_ARGS add node flags to the worker and the API (e.g.
 * --cpu-prof --cpu-prof-dir=/tmp/prof).
 * BENCH_INGEST_MANY_COLUMNS=10000x2000 adds a file of that many columns and rows, the same way.
 * BENCH_INGEST_WIDE_MB=n adds a file of n MB made of rows at the record limit (one quoted cell of
 * just under 1 MiB each), read and exported the same way: the worst case for memory per row.
 * Goals: 1,000,000 rows accepted in at most 2× the raw COPY, and read into companies after that
 * in at most 10× the raw COPY into one column with the worker under 300 MB peak RSS; every process
 * under 400 MB peak RSS for any accepted file, its row export included.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, openAsBlob, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Job } from '@gtm-enrich/contracts';
import { Redis } from 'ioredis';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withFreshDatabase } from './support';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
const SIZES = (process.env.BENCH_INGEST_ROWS ?? '100000,1000000')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map((s) => Number(s.trim()));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = `gtm_bench-${randomBytes(16).toString('hex')}`;
const GOAL_RATIO = 2;
const GOAL_RSS_MB = 400;
const GOAL_READ_RATIO = 10;
const GOAL_WORKER_RSS_MB = 300;
const EXPORT = process.env.BENCH_INGEST_EXPORT !== '0';
const WIDE_MB = Number(process.env.BENCH_INGEST_WIDE_MB ?? '0');
/** `columns x rows`, e.g. 10000x2000: a file of many columns (empty: none). */
const MANY_COLUMNS = /^(\d+)x(\d+)$/.exec(process.env.BENCH_INGEST_MANY_COLUMNS ?? '');
/** Characters in the one long cell of a row of the wide file: just under the 1 MiB record limit. */
const WIDE_CELL_CHARS = 1024 * 1024 - 256;
/** Raw one-column COPYs timed per file; the median is the floor. */
const LINE_COPY_RUNS = 3;
/** USER_HZ, in which /proc gives CPU times: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_S = 100;

if (!DATABASE_URL || !REDIS_URL) {
  console.error('bench:ingest needs DATABASE_URL and REDIS_URL (a real PostgreSQL and Redis).');
  process.exit(2);
}
if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('BENCH_INGEST_ROWS must be a comma-separated list of whole numbers.');
  process.exit(2);
}

const log = (msg: string) => console.log(msg);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const withDatabase = <T>(fn: (url: string) => Promise<T>) => withFreshDatabase(DATABASE_URL!, fn);

// A small deterministic generator, so every run writes the same files.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const TLDS = ['com', 'com', 'com', 'io', 'co', 'ai', 'net', 'org', 'de', 'co.uk', 'fr', 'com.au'];
const WORDS = ['acme', 'nova', 'blue', 'data', 'cloud', 'peak', 'fin', 'labs', 'hq', 'works', 'go', 'ly'];
const COUNTRIES = ['United States', 'Germany', 'France', 'United Kingdom', 'Brazil', 'India', 'Japan'];

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

/** Writes `rows` data rows; returns the file's path and size. */
async function writeFile(dir: string, rows: number): Promise<{ path: string; bytes: number }> {
  const path = join(dir, `companies-${rows}.csv`);
  const out = createWriteStream(path);
  const random = rng(rows);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const domains: string[] = [];
  const spell = (d: string): string => {
    const r = random();
    if (r < 0.3) return d;
    if (r < 0.45) return `https://www.${d}/`;
    if (r < 0.55) return `http://${d}/about?utm_source=crm`;
    if (r < 0.65) return `WWW.${d.toUpperCase()}`;
    if (r < 0.75) return ` ${d} `;
    if (r < 0.85) return `https://${d}/pricing#plans`;
    return `www.${d}`;
  };
  let chunk = 'Company Name,Website,Email,Country,Employees,Notes\n';
  for (let i = 0; i < rows; i++) {
    const r = random();
    let website: string;
    let name: string;
    if (r < 0.2 && domains.length > 0) {
      const d = domains[Math.floor(random() * domains.length)]!;
      website = spell(d);
      name = d.split('.')[0]!;
    } else if (r < 0.25) {
      website = pick(['', 'n/a', '192.168.1.20', 'jane@gmail.com', 'localhost', 'http://', '-']);
      name = `Unknown ${i}`;
    } else {
      name = `${pick(WORDS)}${pick(WORDS)} ${i}`;
      const d = `${name.replace(/\s+/g, '').toLowerCase()}.${pick(TLDS)}`;
      domains.push(d);
      website = spell(d);
    }
    const email = random() < 0.3 ? `sales@${website.replace(/^.*?\/\/|\/.*$/g, '').toLowerCase()}` : '';
    const notes =
      random() < 0.1 ? 'Met at "SaaStr", follow up\nin Q3, maybe' : random() < 0.2 ? 'warm, inbound' : '';
    chunk += `${[name, website, email, pick(COUNTRIES), String(Math.floor(random() * 5_000)), notes].map(quote).join(',')}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return { path, bytes: (await stat(path)).size };
}

/** Rows at the record limit: a domain, then one quoted cell of WIDE_CELL_CHARS with commas and line breaks. */
async function writeWideFile(
  dir: string,
  megabytes: number,
): Promise<{ path: string; bytes: number; rows: number }> {
  const path = join(dir, `wide-${megabytes}.csv`);
  const out = createWriteStream(path);
  const unit = 'lorem, ipsum\n"q" ';
  const cell = quote(unit.repeat(Math.floor(WIDE_CELL_CHARS / (unit.length + 2))));
  const rows = Math.max(1, Math.floor((megabytes * 1024 * 1024) / cell.length));
  out.write('Website,Notes\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`wide-${i}.com,${cell}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, bytes: (await stat(path)).size, rows };
}

/** `columns` columns, the first a domain, the others short numbers: the worst case for cells per row. */
async function writeManyColumnsFile(
  dir: string,
  columns: number,
  rows: number,
): Promise<{ path: string; bytes: number; rows: number }> {
  const path = join(dir, `columns-${columns}x${rows}.csv`);
  const out = createWriteStream(path);
  const header = ['domain', ...Array.from({ length: columns - 1 }, (_, i) => `c${i + 1}`)].join(',');
  out.write(`${header}\n`);
  for (let r = 0; r < rows; r++) {
    const cells = Array.from({ length: columns - 1 }, (_, i) => String((r * 31 + i) % 100_000));
    if (!out.write(`many-${r}.com,${cells.join(',')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, bytes: (await stat(path)).size, rows };
}

/**
 * The floors: PostgreSQL parsing the same file itself, into a plain table of its columns (CSV), and
 * into a table of one text column (each line whole: nothing split, nothing unquoted).
 */
async function rawCopySeconds(
  databaseUrl: string,
  path: string,
  columns: number,
): Promise<{ columnsS: number; lineS: number; lineRange: readonly [number, number] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const timed = async (sql: string) => {
    const started = performance.now();
    await pipeline(createReadStream(path), client.query(copyFrom(sql)));
    return (performance.now() - started) / 1000;
  };
  try {
    // PostgreSQL tables have at most 1,600 columns: a wider file has only the one-column floor.
    let columnsS = Number.NaN;
    if (columns <= 1_600) {
      const names = Array.from({ length: columns }, (_, i) => `c${i} text`).join(', ');
      await client.query(`create table raw_copy (${names})`);
      columnsS = await timed('copy raw_copy from stdin with (format csv, header true)');
      await client.query('drop table raw_copy');
    }
    // The floor the read is held to: timed three times, the median kept (one COPY moved 0.63-1.0 s
    // from run to run on a shared machine, and the ratio with it).
    const lineTimes: number[] = [];
    for (let i = 0; i < LINE_COPY_RUNS; i++) {
      await client.query('create table raw_lines (line text)');
      // Delimiter and quote are bytes a text file does not hold, so every line is one value (the
      // files are written with LF line ends: PostgreSQL refuses a bare LF in a file of CRLF lines).
      lineTimes.push(
        await timed(`copy raw_lines from stdin with (format csv, delimiter E'\\x01', quote E'\\x02')`),
      );
      await client.query('drop table raw_lines');
    }
    lineTimes.sort((a, b) => a - b);
    return {
      columnsS,
      lineS: lineTimes[Math.floor(lineTimes.length / 2)]!,
      lineRange: [lineTimes[0]!, lineTimes[lineTimes.length - 1]!],
    };
  } finally {
    await client.end();
  }
}

/** `node <flags> <file>` as the npm script starts it, without the `node`. */
function nodeArgs(script: string): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const command: string = pkg.scripts[script];
  const [runner, ...rest] = command.split(' ');
  if (runner !== 'node') throw new Error(`${script} no longer runs node: ${command}`);
  return rest;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** User and system CPU seconds of a process so far (Linux /proc); NaN when it is gone. */
async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds spent by the PostgreSQL backends of `database` between `start()` and `total()`, when
 * PostgreSQL runs on this machine (else 0): each backend's CPU is sampled as it goes, so one that
 * ends in between still counts up to its last sample. The machine's load moves wall-clock times;
 * CPU seconds move far less.
 */
function postgresCpu(database: string) {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const sample = async () => {
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (!cmdline.startsWith('postgres: ') || !cmdline.includes(` ${database} `)) continue;
      const cpu = await cpuSeconds(pid);
      if (Number.isNaN(cpu)) continue;
      if (!first.has(pid)) first.set(pid, cpu);
      last.set(pid, cpu);
    }
  };
  return {
    sample,
    total: () => [...last].reduce((sum, [pid, cpu]) => sum + cpu - (first.get(pid) ?? cpu), 0),
  };
}

type Role = 'api' | 'worker';

async function startProcess(
  role: Role,
  databaseUrl: string,
  prefix: string,
): Promise<{ child: ChildProcess; baseUrl: string }> {
  const port = await freePort();
  const metricsPort = await freePort();
  // Node itself, not `npm run`, so the pid is the server's and VmHWM is its own; with the flags
  // the npm script gives it (heap limits), so memory is measured as it runs.
  const extra = (process.env[role === 'worker' ? 'BENCH_WORKER_NODE_ARGS' : 'BENCH_API_NODE_ARGS'] ?? '')
    .split(' ')
    .filter(Boolean);
  const child = spawn(process.execPath, [...extra, ...nodeArgs(`start:${role}`)], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      BOOTSTRAP_API_KEY: API_KEY,
      BOOTSTRAP_ORG_ID: 'bench',
      MAX_ROWS: String(Math.max(100_000, ...SIZES)),
      MAX_UPLOAD_BYTES: String(2 * 1024 * 1024 * 1024),
      // Enrichment is not measured: its calls fail fast and are retried after the measure ends.
      EXPLORIUM_API_KEY: 'bench-no-provider',
      EXPLORIUM_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const healthUrl = role === 'api' ? `${baseUrl}/healthz` : `http://127.0.0.1:${metricsPort}/healthz`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the ${role} exited with ${child.exitCode}`);
    try {
      if ((await fetch(healthUrl)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`the ${role} did not start in 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, baseUrl };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function clearQueue(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL!);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

type Result = {
  label: string;
  rows: number;
  mb: number;
  copyS: number;
  copyLineS: number;
  copyLineRange: readonly [number, number];
  uploadS: number;
  apiRssMb: number;
  readS: number;
  workerRssMb: number;
  exportS: number | null;
  exportMb: number | null;
  apiRssAfterExportMb: number | null;
  /** CPU seconds of the worker and of PostgreSQL's backends from the 202 to the end of the read. */
  workerCpuS: number;
  postgresCpuS: number;
  /** The machine's 1-minute load average at the 202 and at the end of the read. */
  load: readonly [number, number];
  job: Job;
};

async function measure(
  label: string,
  file: { path: string; bytes: number; rows: number; columns: number },
): Promise<Result> {
  const { rows } = file;
  return withDatabase(async (databaseUrl) => {
    const prefix = `bench-ingest-${randomBytes(4).toString('hex')}`;
    const api = await startProcess('api', databaseUrl, prefix);
    const worker = await startProcess('worker', databaseUrl, prefix);
    try {
      const copy = await rawCopySeconds(databaseUrl, file.path, file.columns);
      const form = new FormData();
      form.append('org_id', 'bench');
      form.append('file', await openAsBlob(file.path, { type: 'text/csv' }), `companies-${rows}.csv`);
      const started = performance.now();
      const res = await fetch(`${api.baseUrl}/api/v1/uploads`, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      const body = await res.text();
      const uploadS = (performance.now() - started) / 1000;
      if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${body}`);
      let job = JSON.parse(body) as Job;
      const loadAtStart = loadavg()[0]!;
      const workerCpuAt202 = await cpuSeconds(worker.child.pid!);
      const pgCpu = postgresCpu(new URL(databaseUrl).pathname.slice(1));
      await pgCpu.sample();
      for (let polls = 1; job.status === 'ingesting'; polls++) {
        await new Promise((r) => setTimeout(r, 50));
        // Every half second: a sample reads every process's /proc entry.
        if (polls % 10 === 0) await pgCpu.sample();
        const poll = await fetch(`${api.baseUrl}/api/v1/jobs/${job.id}`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        job = (await poll.json()) as Job;
      }
      const readS = (performance.now() - started) / 1000;
      await pgCpu.sample();
      const workerCpuS = (await cpuSeconds(worker.child.pid!)) - workerCpuAt202;
      const load = [loadAtStart, loadavg()[0]!] as const;
      if (job.status === 'failed') throw new Error(`the file was not read: ${JSON.stringify(job.error)}`);
      const apiRssMb = await peakRssMb(api.child.pid!);
      let exportS: number | null = null;
      let exportMb: number | null = null;
      if (EXPORT) {
        const exportStarted = performance.now();
        const res = await fetch(`${api.baseUrl}/api/v1/jobs/${job.id}/export.csv?layout=rows`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        if (res.status !== 200 || !res.body)
          throw new Error(`export failed: ${res.status} ${await res.text()}`);
        let bytes = 0;
        for await (const chunk of res.body) bytes += chunk.byteLength;
        exportS = (performance.now() - exportStarted) / 1000;
        exportMb = bytes / 1024 / 1024;
      }
      return {
        label,
        rows,
        copyS: copy.columnsS,
        copyLineS: copy.lineS,
        copyLineRange: copy.lineRange,
        mb: file.bytes / 1024 / 1024,
        uploadS,
        apiRssMb,
        readS,
        workerRssMb: await peakRssMb(worker.child.pid!),
        exportS,
        exportMb,
        apiRssAfterExportMb: EXPORT ? await peakRssMb(api.child.pid!) : null,
        workerCpuS,
        postgresCpuS: pgCpu.total(),
        load,
        job,
      };
    } finally {
      await stopProcess(worker.child);
      await stopProcess(api.child);
      await clearQueue(prefix);
    }
  });
}

const dir = await mkdtemp(join(tmpdir(), 'bench-ingest-'));
try {
  log(`bench:ingest — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}`);
  log(
    'file           | rows      | file MB | COPY s (columns) | COPY s (1 column: median, min–max of 3) | time to 202 s | 202 ÷ COPY | API peak RSS MB | read s (after 202) | read ÷ COPY (1 column) | rows/s (read) | worker CPU s (read) | PostgreSQL CPU s (read) | load (1 min) | worker peak RSS MB | companies | rejected | export s | export MB | API peak RSS after export MB',
  );
  const files: {
    label: string;
    make: () => Promise<{ path: string; bytes: number; rows: number; columns: number }>;
  }[] = SIZES.map((rows) => ({
    label: 'CRM export',
    make: async () => ({ ...(await writeFile(dir, rows)), rows, columns: 6 }),
  }));
  if (MANY_COLUMNS) {
    const [columns, rows] = [Number(MANY_COLUMNS[1]), Number(MANY_COLUMNS[2])];
    files.push({
      label: `${columns} columns`,
      make: async () => ({ ...(await writeManyColumnsFile(dir, columns, rows)), columns }),
    });
  }
  if (WIDE_MB > 0) {
    files.push({
      label: `1 MiB rows`,
      make: async () => ({ ...(await writeWideFile(dir, WIDE_MB)), columns: 2 }),
    });
  }
  const results: Result[] = [];
  for (const { label, make } of files) {
    const file = await make();
    const r = await measure(label, file);
    await rm(file.path, { force: true });
    results.push(r);
    const opt = (v: number | null, digits = 0) => (v === null ? '—' : fmt(v, digits));
    const readAfterS = r.readS - r.uploadS;
    log(
      [
        r.label.padEnd(14),
        fmt(r.rows).padEnd(9),
        fmt(r.mb, 1).padStart(7),
        fmt(r.copyS, 2).padStart(16),
        `${fmt(r.copyLineS, 2)} (${fmt(r.copyLineRange[0], 2)}–${fmt(r.copyLineRange[1], 2)})`.padStart(39),
        fmt(r.uploadS, 2).padStart(13),
        `${fmt(r.uploadS / r.copyS, 2)}×`.padStart(10),
        fmt(r.apiRssMb).padStart(15),
        fmt(readAfterS, 1).padStart(18),
        `${fmt(readAfterS / r.copyLineS, 1)}×`.padStart(22),
        fmt(r.rows / readAfterS).padStart(13),
        fmt(r.workerCpuS, 1).padStart(19),
        fmt(r.postgresCpuS, 1).padStart(23),
        `${fmt(r.load[0], 1)}–${fmt(r.load[1], 1)}`.padStart(12),
        fmt(r.workerRssMb).padStart(18),
        fmt(r.job.total).padStart(9),
        fmt(r.job.rejected_rows).padStart(8),
        opt(r.exportS, 1).padStart(8),
        opt(r.exportMb, 1).padStart(9),
        opt(r.apiRssAfterExportMb).padStart(28),
      ].join(' | '),
    );
  }
  const crm = results.filter((r) => r.label === 'CRM export');
  const largest = crm[crm.length - 1];
  if (largest) {
    const accepted = largest.uploadS / largest.copyS;
    const read = (largest.readS - largest.uploadS) / largest.copyLineS;
    log(
      `${fmt(largest.rows)} rows: accepted (202) in ${fmt(accepted, 2)}× a raw COPY into its columns (goal ≤ ${GOAL_RATIO}×: ${accepted <= GOAL_RATIO ? 'met' : 'NOT met'}); ` +
        `read into companies after that in ${fmt(read, 1)}× a raw COPY into one column (goal ≤ ${GOAL_READ_RATIO}×: ${read <= GOAL_READ_RATIO ? 'met' : 'NOT met'}), ` +
        `${fmt(largest.rows / (largest.readS - largest.uploadS))} rows/s, worker peak RSS ${fmt(largest.workerRssMb)} MB (goal ≤ ${GOAL_WORKER_RSS_MB} MB: ${largest.workerRssMb <= GOAL_WORKER_RSS_MB ? 'met' : 'NOT met'})`,
    );
  }
  const peak = Math.max(...results.flatMap((r) => [r.apiRssMb, r.workerRssMb, r.apiRssAfterExportMb ?? 0]));
  log(
    `highest peak RSS of any process: ${fmt(peak)} MB (goal < ${GOAL_RSS_MB} MB: ${peak < GOAL_RSS_MB ? 'met' : 'NOT met'})`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
