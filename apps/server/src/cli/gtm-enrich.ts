/**
 * `gtm-enrich`: enrich a CSV from a shell, a cron job or CI, through the API (any server: the
 * one `npm start` runs, or a deployment). It talks HTTP only, through the generated client
 * (@gtm-enrich/client); it needs no database and reads no server setting.
 *
 * Output: what a script reads (a job id, a table, JSON) goes to stdout; progress and messages
 * go to stderr. Exit codes are in EXIT below and in `gtm-enrich help`.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { ApiError, createGtmClient, type GtmClient, type Job, toApiError, unwrap } from '@gtm-enrich/client';
import { escapeControlCharacters } from '@gtm-enrich/contracts';
import { type ProgressSample, progressOf, renderProgress } from './progress';

/** Exit codes: stable, documented in the README and in `help`. */
export const EXIT = {
  /** The job completed (and, for enrich and download, its export is written). */
  DONE: 0,
  /** Anything unexpected: the server could not be reached, a file could not be written. */
  ERROR: 1,
  /** The command line is wrong. */
  USAGE: 2,
  /** The API refused the request (bad key, bad file, unknown job…): its message is printed. */
  REFUSED: 3,
  /** The job failed (its error is printed). */
  JOB_FAILED: 4,
  /** The job was cancelled. */
  JOB_CANCELLED: 5,
  /** The job is paused and needs someone (credit limit reached, provider key refused…). */
  JOB_PAUSED: 6,
  /** Ctrl-C: stopped watching; the job goes on on the server. */
  INTERRUPTED: 130,
} as const;

const USAGE = `usage: gtm-enrich <command> [options]

  enrich <file.csv> [-o out.csv]   upload, show the estimate, wait with progress, download
      --layout rows|companies      rows (default): your file with the enrichment columns appended;
                                   companies: one row per unique domain
      --format csv|source          csv (default): comma-separated UTF-8; source: your file's own
                                   delimiter and encoding
      --max-credits <n>            pause the job once it has spent this many credits
      --force-refresh              ask the provider again even for cached domains
      --providers <a,b>            providers to use, in order (the server says which it has)
      --domain-column <name>       the column holding the domains (default: detected)
      --no-wait                    print the job id and exit; follow it with watch or status
  watch <job-id> [-o out.csv]      wait for a job with progress, then download it
  status <job-id> [--json]         a job's status, counts, estimate and usage
  download <job-id> [-o out.csv]   write a job's export (--layout as above)
  jobs list [--limit <n>] [--json] the organization's jobs, newest first

  --api-url <url>    the server (env GTM_API_URL; default http://localhost:3000)
  --api-key <key>    an API key (env GTM_API_KEY); prefer the environment: flags show in ps
  --interval <s>     seconds between progress polls (default 1)

exit codes: 0 done · 1 error · 2 usage · 3 refused by the API · 4 job failed ·
            5 job cancelled · 6 job paused (needs action) · 130 interrupted (the job keeps running)`;

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  layout: { type: 'string' },
  format: { type: 'string' },
  'max-credits': { type: 'string' },
  'force-refresh': { type: 'boolean' },
  providers: { type: 'string' },
  'domain-column': { type: 'string' },
  'no-wait': { type: 'boolean' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** Worth asking again while waiting for a job: the server is away or busy, not refusing. */
    readonly transient = false,
  ) {
    super(message);
  }
}

/** Statuses of a server that is restarting, overloaded or behind a proxy that lost it. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);
/** While waiting for a job, how long the server may be away (a restart, a deploy) before giving up. */
const WAIT_THROUGH_OUTAGE_MS = 5 * 60_000;

const say = (line: string) => process.stderr.write(`${escapeControlCharacters(line)}\n`);
const print = (line: string) => process.stdout.write(`${escapeControlCharacters(line)}\n`);
/** JSON escapes control characters inside its strings by itself; its newlines are layout. */
const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

type Options = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliExit(EXIT.USAGE, `${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new CliExit(EXIT.USAGE, `--${name} must be a whole number of at least 1, not "${value}".`);
  }
  return Number(value);
}

function layoutOf(options: Options): 'rows' | 'companies' {
  const layout = options.layout ?? 'rows';
  if (layout !== 'rows' && layout !== 'companies') {
    throw new CliExit(EXIT.USAGE, `--layout is rows or companies, not "${layout}".`);
  }
  return layout;
}

function formatOf(options: Options): 'csv' | 'source' {
  const format = options.format ?? 'csv';
  if (format !== 'csv' && format !== 'source') {
    throw new CliExit(EXIT.USAGE, `--format is csv or source, not "${format}".`);
  }
  return format;
}

function client(options: Options, env: NodeJS.ProcessEnv): GtmClient {
  const apiKey = options['api-key'] ?? env.GTM_API_KEY;
  if (!apiKey) {
    throw new CliExit(
      EXIT.USAGE,
      'No API key: set GTM_API_KEY (or pass --api-key). `npm run cli -- key create --org <id> --role member` makes one.',
    );
  }
  const baseUrl = options['api-url'] ?? env.GTM_API_URL ?? 'http://localhost:3000';
  try {
    new URL(baseUrl);
  } catch {
    throw new CliExit(EXIT.USAGE, `--api-url (GTM_API_URL) is not a URL: "${baseUrl}".`);
  }
  return createGtmClient({ baseUrl, apiKey, headers: { 'user-agent': 'gtm-enrich-cli' } });
}

/** A call's data, or a CliExit that says what the API said (or that it could not be reached). */
async function request<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  try {
    return unwrap(await call);
  } catch (err) {
    if (err instanceof ApiError) {
      const id = err.requestId ? ` (request ${err.requestId})` : '';
      throw new CliExit(
        EXIT.REFUSED,
        `The API answered ${err.status} ${err.code}: ${err.message}${id}`,
        TRANSIENT_STATUSES.has(err.status),
      );
    }
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new CliExit(
      EXIT.ERROR,
      `Could not reach the API${cause ? ` (${cause})` : ''}: ${err instanceof Error ? err.message : String(err)}. ` +
        'Check --api-url (GTM_API_URL) and that the server runs.',
      true,
    );
  }
}

/**
 * Backstops for a connection that stops without an error (a proxy that drops it mid-request can
 * leave fetch waiting for ever): a read of a job, and a whole upload (the server allows 15 min
 * by default, HTTP_REQUEST_TIMEOUT_MS). Both are then tried again like an unreachable server.
 */
const READ_TIMEOUT_MS = 60_000;
const UPLOAD_TIMEOUT_MS = 20 * 60_000;

const getJob = (api: GtmClient, jobId: string) =>
  request(
    api.GET('/api/v1/jobs/{jobId}', {
      params: { path: { jobId } },
      signal: AbortSignal.timeout(READ_TIMEOUT_MS),
    }),
  );

/**
 * The job, asked again with backoff while the server is away or busy: a long job outlives a
 * restart or a deploy of the API, and the job goes on meanwhile.
 */
function pollJob(api: GtmClient, jobId: string): Promise<Job> {
  return retryTransient(() => getJob(api, jobId), Number.POSITIVE_INFINITY);
}

/** Tries of an upload while the server is away: its Idempotency-Key makes them safe. */
const UPLOAD_TRIES = 4;

/** `call` again with backoff while the server is away or busy: at most `tries` times, within WAIT_THROUGH_OUTAGE_MS. */
async function retryTransient<T>(call: () => Promise<T>, tries: number): Promise<T> {
  const since = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await call();
      if (attempt > 0) say('the API answers again');
      return result;
    } catch (err) {
      const spent = attempt + 1 >= tries || Date.now() - since > WAIT_THROUGH_OUTAGE_MS;
      if (!(err instanceof CliExit && err.transient) || spent) throw err;
      if (attempt === 0) {
        // Below the progress bar, not on it.
        if (process.stderr.isTTY) process.stderr.write('\n');
        say(`${err.message.split('. Check')[0]}; asking again`);
      }
      await sleep(Math.min(30_000, 1_000 * 2 ** attempt));
    }
  }
}

function describeEstimate(job: Job): string {
  const e = job.estimate;
  if (!e) return 'estimate: pending (the file is being read)';
  const minutes =
    e.duration_seconds >= 90 ? `${Math.round(e.duration_seconds / 60)} min` : `${e.duration_seconds} s`;
  return (
    `estimate: ${job.total} companies, ${e.cache_hits} from the cache, at most ${e.credits} credits ` +
    `in ${e.provider_calls} provider calls, about ${minutes}` +
    (job.max_credits !== null ? ` (limit: ${job.max_credits} credits)` : '')
  );
}

/** What a finished or stopped job means for the exit code, with a sentence saying why. */
function outcome(job: Job): { code: number; message: string } | null {
  const why = job.error ? `: ${job.error.code}: ${job.error.message}` : '';
  switch (job.status) {
    case 'completed':
      return { code: EXIT.DONE, message: `job ${job.id} completed` };
    case 'failed':
      return { code: EXIT.JOB_FAILED, message: `job ${job.id} failed${why}` };
    case 'cancelled':
      return { code: EXIT.JOB_CANCELLED, message: `job ${job.id} was cancelled` };
    case 'paused':
      return {
        code: EXIT.JOB_PAUSED,
        message:
          `job ${job.id} is paused${why}\n` +
          'Fix the cause (raise the limit: PATCH /api/v1/jobs/{id} {"max_credits": …}; a provider key…), ' +
          `resume it (POST /api/v1/jobs/${job.id}/resume), then: gtm-enrich watch ${job.id}`,
      };
    default:
      return null;
  }
}

/** Ctrl-C while watching: the job is the server's, so it goes on; say how to come back to it. */
function onInterrupt(jobId: () => string | null, output: string | undefined): () => void {
  const handler = () => {
    const id = jobId();
    process.stderr.write('\n');
    if (id) {
      say(`Stopped watching. Job ${id} keeps running on the server.`);
      say(`Resume watching: gtm-enrich watch ${id}${output ? ` -o ${output}` : ''}`);
    } else {
      say(
        'Interrupted before the server answered: the upload may or may not have created a job (gtm-enrich jobs list).',
      );
    }
    process.exit(EXIT.INTERRUPTED);
  };
  process.once('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function watch(api: GtmClient, first: Job, intervalMs: number): Promise<Job> {
  const tty = process.stderr.isTTY === true;
  const samples: ProgressSample[] = [];
  let job = first;
  let lastLine = '';
  let lastPlainAt = 0;
  for (;;) {
    const now = Date.now();
    const progress = progressOf(job, samples, now);
    if (tty) {
      process.stderr.write(`\r\x1b[2K${renderProgress(job, progress, process.stderr.columns || 80)}`);
    } else {
      // Without a terminal: a plain line when something changed, at most every 5 s (logs stay short).
      const line = `${job.status} ${progress.done}/${job.total} (${progress.percent}%)${progress.etaSeconds !== null ? ` eta ${progress.etaSeconds}s` : ''} credits ${job.usage.credits}`;
      if (line !== lastLine && (now - lastPlainAt >= 5_000 || outcome(job))) {
        say(line);
        lastLine = line;
        lastPlainAt = now;
      }
    }
    if (outcome(job)) break;
    await sleep(intervalMs);
    job = await pollJob(api, job.id);
  }
  if (tty) process.stderr.write('\n');
  return job;
}

async function download(
  api: GtmClient,
  job: Job,
  layout: 'rows' | 'companies',
  output: string,
  format: 'csv' | 'source' = 'csv',
): Promise<void> {
  const { response } = await api
    .GET('/api/v1/jobs/{jobId}/export.csv', {
      params: { path: { jobId: job.id }, query: { layout, format } },
      parseAs: 'stream',
    })
    .catch((err: unknown) => {
      throw new CliExit(EXIT.ERROR, `Could not reach the API: ${err instanceof Error ? err.message : err}`);
    });
  if (!response.ok || !response.body) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    const err = toApiError(response.status, body);
    throw new CliExit(EXIT.REFUSED, `The API answered ${err.status} ${err.code}: ${err.message}`);
  }
  // Written beside the target and renamed at the end: an interrupted download leaves no half file.
  const partial = `${output}.partial`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      createWriteStream(partial),
    );
    await rename(partial, output);
  } catch (err) {
    await rm(partial, { force: true });
    throw new CliExit(EXIT.ERROR, `Could not write ${output}: ${err instanceof Error ? err.message : err}`);
  }
  const { size } = await stat(output);
  say(`wrote ${output} (${size} bytes, layout ${layout})`);
}

function defaultOutput(file: string | null | undefined, layout: 'rows' | 'companies'): string {
  const base = path.basename(file ?? 'companies').replace(/\.csv$/i, '');
  return `${base}-${layout === 'rows' ? 'enriched' : 'companies'}.csv`;
}

async function enrich(api: GtmClient, file: string, options: Options, intervalMs: number): Promise<number> {
  const layout = layoutOf(options);
  const format = formatOf(options);
  const maxCredits = positiveInt('max-credits', options['max-credits']);
  const providers = options.providers
    ?.split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (options.providers !== undefined && !providers?.length) {
    throw new CliExit(EXIT.USAGE, '--providers needs one name or more, comma-separated (e.g. explorium).');
  }
  let blob: Blob;
  try {
    blob = await openAsBlob(file);
  } catch (err) {
    throw new CliExit(EXIT.USAGE, `Cannot read ${file}: ${(err as { code?: string }).code ?? err}`);
  }
  let jobId: string | null = null;
  const output = options.output ?? defaultOutput(file, layout);
  const stopHandling = onInterrupt(() => jobId, output);
  try {
    say(`uploading ${file} (${blob.size} bytes)…`);
    // One key for every try of this upload: a try whose answer was lost is answered again with
    // the job it created, never with a second job.
    const idempotencyKey = randomUUID();
    const send = () =>
      request(
        api.POST('/api/v1/uploads', {
          params: { header: { 'idempotency-key': idempotencyKey } },
          signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
          body: {
            file: blob,
            domain_column: options['domain-column'],
            force_refresh: options['force-refresh'],
            max_credits: maxCredits,
            providers: providers?.join(','),
          },
          bodySerializer: (body) => {
            const form = new FormData();
            // Fields first: the server checks them before reading the file.
            for (const [key, value] of Object.entries(body)) {
              if (key !== 'file' && value !== undefined) form.append(key, String(value));
            }
            form.append('file', blob, path.basename(file));
            return form;
          },
        }),
      );
    let job = await retryTransient(send, UPLOAD_TRIES);
    jobId = job.id;
    say(
      `job ${job.id} created (provider: ${job.provider}${job.provider === 'sandbox' ? ', SYNTHETIC data' : ''})`,
    );
    if (options['no-wait']) {
      print(job.id);
      return EXIT.DONE;
    }
    while (job.status === 'ingesting') {
      await sleep(intervalMs);
      job = await pollJob(api, job.id);
    }
    say(describeEstimate(job));
    return await finish(api, job, layout, output, intervalMs, format);
  } finally {
    stopHandling();
  }
}

async function finish(
  api: GtmClient,
  started: Job,
  layout: 'rows' | 'companies',
  output: string,
  intervalMs: number,
  format: 'csv' | 'source',
): Promise<number> {
  const job = await watch(api, started, intervalMs);
  const result = outcome(job)!;
  if (result.code !== EXIT.DONE) {
    say(result.message);
    return result.code;
  }
  const c = job.counts;
  say(
    `${result.message}: ${c.enriched} enriched, ${c.not_found} not found, ${c.failed} failed, ` +
      `${job.rejected_rows} rows without a usable domain; ${job.usage.credits} credits`,
  );
  await download(api, job, layout, output, format);
  return EXIT.DONE;
}

function printJob(job: Job): void {
  const c = job.counts;
  print(`job       ${job.id}`);
  print(`status    ${job.status}${job.error ? ` (${job.error.code}: ${job.error.message})` : ''}`);
  print(`file      ${job.filename ?? ''}`);
  print(`provider  ${job.provider}`);
  print(
    `companies ${job.total}: ${c.queued} queued, ${c.processing} processing, ${c.enriched} enriched, ` +
      `${c.not_found} not found, ${c.failed} failed, ${c.cancelled} cancelled`,
  );
  print(`rejected  ${job.rejected_rows} rows`);
  print(describeEstimate(job));
  print(
    `usage     ${job.usage.credits} credits, ${job.usage.provider_calls} provider calls, ${job.usage.cache_hits} cache hits`,
  );
  print(`created   ${job.created_at}${job.finished_at ? ` · finished ${job.finished_at}` : ''}`);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values: options, positionals } = parse(argv);
  const [command, ...args] = positionals;
  if (options.help || !command || command === 'help') {
    (command || options.help ? print : say)(USAGE);
    return command || options.help ? EXIT.DONE : EXIT.USAGE;
  }
  const intervalMs = (positiveInt('interval', options.interval) ?? 1) * 1000;
  const api = () => client(options, env);
  const oneId = (what: string) => {
    if (args.length !== 1) throw new CliExit(EXIT.USAGE, `${what} needs one job id.\n\n${USAGE}`);
    return args[0]!;
  };
  switch (command) {
    case 'enrich': {
      if (args.length !== 1) throw new CliExit(EXIT.USAGE, `enrich needs one CSV file.\n\n${USAGE}`);
      return enrich(api(), args[0]!, options, intervalMs);
    }
    case 'watch': {
      const client = api();
      const job = await getJob(client, oneId('watch'));
      const layout = layoutOf(options);
      const output = options.output ?? defaultOutput(job.filename, layout);
      const stopHandling = onInterrupt(() => job.id, options.output);
      try {
        return await finish(client, job, layout, output, intervalMs, formatOf(options));
      } finally {
        stopHandling();
      }
    }
    case 'status': {
      const job = await getJob(api(), oneId('status'));
      if (options.json) printJson(job);
      else printJob(job);
      return EXIT.DONE;
    }
    case 'download': {
      const client = api();
      const job = await getJob(client, oneId('download'));
      const layout = layoutOf(options);
      const result = outcome(job);
      if (result && result.code !== EXIT.DONE)
        say(`note: ${result.message.split('\n')[0]}; exporting what it has`);
      if (!result) say(`note: job ${job.id} is ${job.status}; exporting what it has so far`);
      await download(
        client,
        job,
        layout,
        options.output ?? defaultOutput(job.filename, layout),
        formatOf(options),
      );
      return EXIT.DONE;
    }
    case 'jobs': {
      if (args[0] !== 'list' || args.length !== 1) throw new CliExit(EXIT.USAGE, `jobs list\n\n${USAGE}`);
      const limit = positiveInt('limit', options.limit) ?? 20;
      const page = await request(api().GET('/api/v1/jobs', { params: { query: { limit } } }));
      if (options.json) {
        printJson(page);
        return EXIT.DONE;
      }
      const rows = [
        ['ID', 'STATUS', 'COMPANIES', 'DONE', 'CREDITS', 'CREATED', 'FILE'],
        ...page.data.map((j) => [
          j.id,
          j.status,
          String(j.total),
          String(progressOf(j, [], 0).done),
          String(j.usage.credits),
          j.created_at.slice(0, 16),
          j.filename ?? '',
        ]),
      ].map((r) => r.map(escapeControlCharacters));
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows)
        print(
          r
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        );
      return EXIT.DONE;
    }
    default:
      throw new CliExit(EXIT.USAGE, `unknown command "${command}"\n\n${USAGE}`);
  }
}

// Run when started as a program (bin/gtm-enrich.js, `npm run enrich`), not when a test imports it.
if (process.argv[1] && /gtm-enrich(\.[jt]s)?$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof CliExit) {
        say(err.message);
        process.exit(err.code);
      }
      say(`error: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(EXIT.ERROR);
    },
  );
}
