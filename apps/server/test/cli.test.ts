/**
 * `gtm-enrich`, the scripting CLI, run as a program against a whole system (API, worker,
 * sandbox provider): every command and every documented exit code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/gtm-enrich';
import { startTcpProxy } from './tcp-proxy';
import { apiFetch, startTestSystem, type TestSystem } from './test-system';

const BIN = path.resolve(import.meta.dirname, '../bin/gtm-enrich.js');

type Run = { code: number | null; stdout: string; stderr: string };

describe('gtm-enrich', () => {
  let t: TestSystem;
  let dir: string;
  beforeAll(async () => {
    // Slow enough that a job of a few hundred companies is still running when it is interrupted.
    t = await startTestSystem({ sandbox: { latencyMs: 150 } });
    dir = await mkdtemp(path.join(tmpdir(), 'gtm-cli-'));
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function start(
    args: string[],
    env: Record<string, string> = {},
  ): { child: ChildProcess; result: Promise<Run>; stderr(): string } {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, GTM_API_URL: t.baseUrl, GTM_API_KEY: t.key, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const result = new Promise<Run>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    return { child, result, stderr: () => stderr };
  }
  const cli = (args: string[], env?: Record<string, string>) => start(args, env).result;

  async function leads(name: string, domains: number): Promise<string> {
    const lines = ['Company,Website,Owner'];
    for (let i = 0; i < domains; i++)
      lines.push(`Company ${i},https://www.company-${name}-${i}.com/about,dana`);
    lines.push('No site,,dana');
    await writeFile(path.join(dir, `${name}.csv`), `${lines.join('\n')}\n`);
    return `${name}.csv`;
  }

  it('enriches a file end to end: uploads, shows the estimate, waits, writes the rows export', async () => {
    const file = await leads('leads', 60);
    const run = await cli(['enrich', file, '-o', 'leads-enriched.csv', '--providers', 'sandbox']);
    expect(run.code, run.stderr).toBe(EXIT.DONE);
    expect(run.stderr).toMatch(/estimate: 60 companies, 0 from the cache, at most 60 credits/);
    expect(run.stderr).toMatch(
      /completed: \d+ enriched, \d+ not found, 0 failed, 1 rows without a usable domain/,
    );
    // Without a terminal, progress is plain lines, not a redrawn bar.
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).toMatch(/^completed 60\/60 \(100%\)/m);
    const csv = (await readFile(path.join(dir, 'leads-enriched.csv'), 'utf8')).replace(/^\uFEFF/, '');
    const rows = csv.trim().split(/\r?\n/);
    expect(rows).toHaveLength(62);
    expect(rows[0]).toMatch(/^Company,Website,Owner,.*industry/);
    expect(rows[1]).toContain('Company 0,https://www.company-leads-0.com/about,dana');
  });

  it('draws a progress bar with an ETA on a terminal', async () => {
    const file = await leads('terminal', 400);
    // `script` runs the CLI on a pseudo-terminal, as a person's shell would.
    const command = [process.execPath, BIN, 'enrich', file, '-o', 'terminal-out.csv']
      .map((a) => `'${a}'`)
      .join(' ');
    const run = await new Promise<Run>((resolve) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        cwd: dir,
        env: { ...process.env, GTM_API_URL: t.baseUrl, GTM_API_KEY: t.key, COLUMNS: '100' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.on('close', (code) => resolve({ code, stdout, stderr: '' }));
    });
    expect(run.code, run.stdout).toBe(EXIT.DONE);
    // Redrawn in place: carriage return, erase the line, the bar.
    const ERASE_LINE = '\r\u001b[2K';
    expect(run.stdout).toContain(`${ERASE_LINE}[`);
    expect(run.stdout.split(ERASE_LINE).some((drawn) => /^\[[#.]+\] \d+% \d+\/400/.test(drawn))).toBe(true);
    expect(run.stdout).toMatch(/ · ETA \d+(s|m\d\ds) · /);
    expect(run.stdout).toMatch(/\[#+\] 100% 400\/400 .* completed/);
  });

  it('--no-wait prints the job id; status, watch, download and jobs list take it from there', async () => {
    const file = await leads('later', 20);
    const started = await cli(['enrich', file, '--no-wait', '--force-refresh', '--max-credits', '500']);
    expect(started.code, started.stderr).toBe(EXIT.DONE);
    const jobId = started.stdout.trim();
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);

    const status = await cli(['status', jobId, '--json']);
    expect(status.code).toBe(EXIT.DONE);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: jobId, force_refresh: true, max_credits: 500 });

    const watched = await cli(['watch', jobId, '-o', 'later-rows.csv']);
    expect(watched.code, watched.stderr).toBe(EXIT.DONE);
    expect((await readFile(path.join(dir, 'later-rows.csv'), 'utf8')).trim().split('\n')).toHaveLength(22);

    const companies = await cli(['download', jobId, '--layout', 'companies', '-o', 'later-companies.csv']);
    expect(companies.code, companies.stderr).toBe(EXIT.DONE);
    const lines = (await readFile(path.join(dir, 'later-companies.csv'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toContain('domain');

    // A semicolon file comes back with semicolons when asked for in its own form.
    await writeFile(path.join(dir, 'semicolons.csv'), 'Name;Website\nStripe;stripe.com\nFigma;figma.com\n');
    const own = await cli(['enrich', 'semicolons.csv', '--format', 'source', '-o', 'semicolons-out.csv']);
    expect(own.code, own.stderr).toBe(EXIT.DONE);
    const ownLines = (await readFile(path.join(dir, 'semicolons-out.csv'), 'utf8')).trim().split(/\r?\n/);
    expect(ownLines[0]).toMatch(/^(\uFEFF)?Name;Website;/);
    expect(ownLines[1]).toMatch(/^Stripe;stripe\.com;/);
    const bad = await cli(['download', jobId, '--format', 'xlsx']);
    expect(bad.code).toBe(EXIT.USAGE);

    const list = await cli(['jobs', 'list']);
    expect(list.code).toBe(EXIT.DONE);
    expect(list.stdout).toMatch(new RegExp(`^${jobId}\\s+completed\\s+20\\s+20`, 'm'));

    const human = await cli(['status', jobId]);
    expect(human.stdout).toMatch(/^status\s+completed$/m);
  });

  it('exits 6 with the reason and how to go on when the job pauses at --max-credits', async () => {
    const file = await leads('capped', 120);
    const run = await cli(['enrich', file, '--max-credits', '1']);
    expect(run.code, run.stderr).toBe(EXIT.JOB_PAUSED);
    expect(run.stderr).toMatch(/is paused: CREDIT_LIMIT_REACHED/);
    expect(run.stderr).toMatch(/gtm-enrich watch [0-9a-f-]{36}/);
  });

  it('exits 5 when the job it watches is cancelled', async () => {
    const file = await leads('cancelled', 1000);
    const started = await cli(['enrich', file, '--no-wait']);
    const jobId = started.stdout.trim();
    const watching = start(['watch', jobId]);
    const res = await apiFetch(`${t.baseUrl}/api/v1/jobs/${jobId}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    const run = await watching.result;
    expect(run.code, run.stderr).toBe(EXIT.JOB_CANCELLED);
    expect(run.stderr).toContain(`job ${jobId} was cancelled`);
  });

  it('on Ctrl-C stops watching, leaves the job running and says how to resume', async () => {
    const file = await leads('interrupted', 400);
    const running = start(['enrich', file, '-o', 'interrupted-out.csv']);
    await expect.poll(running.stderr, { timeout: 20_000 }).toMatch(/^(queued|running) \d+\/400/m);
    running.child.kill('SIGINT');
    const run = await running.result;
    expect(run.code, run.stderr).toBe(EXIT.INTERRUPTED);
    const jobId = /Job ([0-9a-f-]{36}) keeps running on the server/.exec(run.stderr)?.[1];
    expect(jobId).toBeDefined();
    expect(run.stderr).toContain(`Resume watching: gtm-enrich watch ${jobId} -o interrupted-out.csv`);
    // The job was not touched: it goes on to the end by itself.
    await expect
      .poll(
        async () =>
          ((await (await apiFetch(`${t.baseUrl}/api/v1/jobs/${jobId}`)).json()) as { status: string }).status,
        { timeout: 30_000 },
      )
      .toBe('completed');
  });

  it('waits through an API that goes away for a while, then finishes', async () => {
    const api = new URL(t.baseUrl);
    const proxy = await startTcpProxy({ host: api.hostname, port: Number(api.port) });
    try {
      const file = await leads('outage', 400);
      const watching = start(['enrich', file, '-o', 'outage-out.csv'], {
        GTM_API_URL: `http://127.0.0.1:${proxy.port}`,
      });
      await expect.poll(watching.stderr, { timeout: 20_000 }).toMatch(/^(queued|running) \d+\/400/m);
      proxy.cut();
      await expect
        .poll(watching.stderr, { timeout: 10_000 })
        .toMatch(/Could not reach the API.*; asking again/);
      proxy.restore();
      const run = await watching.result;
      expect(run.code, run.stderr).toBe(EXIT.DONE);
      expect(run.stderr).toContain('the API answers again');
      expect(run.stderr).toContain('wrote outage-out.csv');
    } finally {
      await proxy.close();
    }
  });

  it('uploads once through a server that is down at first (one Idempotency-Key for every try)', async () => {
    // A port nobody listens on yet (connections refused), then a forwarder to the API on it.
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const api = new URL(t.baseUrl);
    const file = await leads('away', 5);
    const started = start(['enrich', file, '--no-wait'], { GTM_API_URL: `http://127.0.0.1:${port}` });
    await expect.poll(started.stderr, { timeout: 10_000 }).toMatch(/Could not reach the API.*; asking again/);
    const forwarder = createNetServer((client) => {
      const upstream = connect(Number(api.port), api.hostname);
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => forwarder.listen(port, '127.0.0.1', resolve));
    try {
      const run = await started.result;
      expect(run.code, run.stderr).toBe(EXIT.DONE);
      expect(run.stderr).toContain('the API answers again');
      const jobId = run.stdout.trim();
      const list = (await (await apiFetch(`${t.baseUrl}/api/v1/jobs?limit=100`)).json()) as {
        data: { id: string; filename: string | null }[];
      };
      expect(list.data.filter((j) => j.filename === 'away.csv').map((j) => j.id)).toEqual([jobId]);
    } finally {
      forwarder.close();
    }
  });

  it('answers clearly, with its exit codes, what it cannot do', async () => {
    const file = await leads('refused', 3);
    const provider = await cli(['enrich', file, '--providers', 'explorium,sandbox']);
    expect(provider.code).toBe(EXIT.REFUSED);
    expect(provider.stderr).toMatch(/"explorium" is not available on this server, which can ask "sandbox"/);

    const badKey = await cli(['jobs', 'list'], {
      GTM_API_KEY: 'gtm_not-a-real-key-0000000000000000000000000000',
    });
    expect(badKey.code).toBe(EXIT.REFUSED);
    expect(badKey.stderr).toMatch(/401 UNAUTHENTICATED/);

    const noKey = await cli(['jobs', 'list'], { GTM_API_KEY: '' });
    expect(noKey.code).toBe(EXIT.USAGE);
    expect(noKey.stderr).toContain('GTM_API_KEY');

    const missing = await cli(['enrich', 'nowhere.csv']);
    expect(missing.code).toBe(EXIT.USAGE);
    expect(missing.stderr).toContain('Cannot read nowhere.csv');

    const unknownJob = await cli(['status', '00000000-0000-4000-8000-000000000000']);
    expect(unknownJob.code).toBe(EXIT.REFUSED);
    expect(unknownJob.stderr).toMatch(/404 NOT_FOUND/);

    const down = await cli(['jobs', 'list'], { GTM_API_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(EXIT.ERROR);
    expect(down.stderr).toContain('Could not reach the API');

    const usage = await cli(['enrich']);
    expect(usage.code).toBe(EXIT.USAGE);
    expect(usage.stderr).toContain('usage: gtm-enrich');
  });
});
