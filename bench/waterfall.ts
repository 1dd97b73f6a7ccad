/**
 * `npm run bench:waterfall`: what a provider waterfall costs and how fast it runs, on PostgreSQL
 * (DATABASE_URL), with BullMQ when REDIS_URL is set (else the in-process queue). The waterfall is
 * sandbox (the Explorium emulator), then People Data Labs' emulator, then the keyless web
 * provider, over BENCH_WATERFALL_DOMAINS company domains (default 10,000), with every setting
 * the server's default except the addresses (WORKER_CONCURRENCY, PROVIDER_BATCH_WINDOW_MS and
 * WEB_CONCURRENCY are taken from the environment when set).
 *
 * A child process serves the outside world on loopback: both emulators, a DNS server giving every
 * domain an MX at Google, and for one domain in BENCH_WATERFALL_SITE_EVERY (default 10; 0 = none)
 * an A record and a homepage (a WordPress page) on ports 80 and 443 of a loopback address of its
 * own, so the web provider's homepage path runs too (the sites need the right to bind port 80;
 * without it the run goes on with DNS alone and says so). This process runs the API and the
 * worker, so its peak RSS is the server's (plus the benchmark's polling).
 *
 * Prints for the first run: calls per 1,000 domains per paid provider, as each emulator counted
 * them and as the job's ledger (`usage.providers`) says, which must agree; how many companies
 * each later provider was asked about against how many still had a field it fills empty; wall
 * time, companies a second, peak RSS. Then the same list once more: calls per provider (every
 * answer should come from the enrichment cache). Exits 1 when a count disagrees or a company
 * was lost.
 */
import { fork } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type Company,
  type CompanyList,
  type EnrichedField,
  type Job,
  type ProviderName,
  provenanceOf,
} from '@gtm-enrich/contracts';
import pino from 'pino';
import { loadConfig } from '../apps/server/src/config';
import { FIRMOGRAPHIC_FIELDS } from '../apps/server/src/providers/provider';
import { startPdlEmulator } from '../apps/server/src/providers/sandbox/pdl-emulator';
import { startSandboxServer } from '../apps/server/src/providers/sandbox/sandbox-server';
import { createWebProvider } from '../apps/server/src/providers/web/web-provider';
import { createSystem } from '../apps/server/src/system';
import { startLocalDnsServer } from '../apps/server/test/local-dns-server';
import { type LocalSites, startLocalSites } from '../apps/server/test/local-sites';
import { withFreshDatabase } from './support';

const DATABASE_URL = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL;
const DOMAINS = Number(process.env.BENCH_WATERFALL_DOMAINS ?? 10_000);
const SITE_EVERY = Number(process.env.BENCH_WATERFALL_SITE_EVERY ?? 10);
const CALLS_GOAL_PER_1000 = 40;
const API_KEY = 'gtm_bench-admin-key-0123456789abcdefghijklmnopq';
const AUTH = { authorization: `Bearer ${API_KEY}` };
const PDL_KEY = 'bench-pdl-key';
const WATERFALL: ProviderName[] = ['sandbox', 'pdl', 'web'];
// The server's settings that shape batches, taken from the environment when set (else its defaults).
const TUNING = Object.fromEntries(
  ['WORKER_CONCURRENCY', 'PROVIDER_BATCH_WINDOW_MS', 'WEB_CONCURRENCY']
    .filter((key) => process.env[key])
    .map((key) => [key, process.env[key]!]),
);

const domainOf = (i: number) => `wf-${String(i).padStart(6, '0')}.com`;
const hasSite = (domain: string) => SITE_EVERY > 0 && Number(domain.slice(3, 9)) % SITE_EVERY === 0;

/** What the child reports: each emulator's own counts, and what the DNS server and sites were asked. */
type OutsideCounts = {
  sandbox: {
    calls: number;
    match: number;
    enrich: number;
    bulkEnrich: number;
    items: number;
    credits: number;
  };
  pdl: { calls: number; itemsSent: number; credits: number };
  /** Domains asked their MX: one per domain the web provider looked up. */
  mxDomains: number;
  dnsQuestions: number;
  siteRequests: number;
};
type Outside = { sandboxUrl: string; pdlUrl: string; dns: string; siteAddress: string | null };

async function serve(): Promise<void> {
  const sandbox = await startSandboxServer({});
  const pdl = await startPdlEmulator({ apiKey: PDL_KEY });
  // A loopback address of our own, so ports 80 and 443 are ours whatever else runs here.
  const siteAddress = `127.${randomInt(100, 250)}.${randomInt(1, 250)}.${randomInt(1, 250)}`;
  const page = readFileSync(
    fileURLToPath(new URL('../apps/server/src/providers/web/fixtures/wordpress-home.html', import.meta.url)),
    'utf8',
  );
  const sites: LocalSites[] = [];
  if (SITE_EVERY > 0) {
    const handler = (host: string, path: string) => {
      if (path === '/robots.txt')
        return { headers: { 'content-type': 'text/plain' }, body: 'User-agent: *\n' };
      if (path === '/') return page.replaceAll('acme.test', host);
      return undefined;
    };
    try {
      // Plain HTTP on 443 too: the HTTPS attempt fails its handshake and HTTP follows, as bench:web does.
      sites.push(await startLocalSites(handler, { address: siteAddress, port: 80 }));
      sites.push(await startLocalSites(handler, { address: siteAddress, port: 443 }));
    } catch (err) {
      console.error(`no local sites (${(err as Error).message}): the web provider reads DNS only`);
      for (const s of sites.splice(0)) await s.close();
    }
  }
  const withSites = sites.length > 0;
  const dns = await startLocalDnsServer((name, type) => {
    if (!/^(www\.)?wf-\d{6}\.com$/.test(name)) return 'NXDOMAIN';
    const domain = name.replace(/^www\./, '');
    if (type === 'MX' && domain === name) return { MX: [{ exchange: 'aspmx.l.google.com', priority: 1 }] };
    if (type === 'A' && withSites && hasSite(domain)) return { A: [siteAddress] };
    return {};
  });
  const counts = (): OutsideCounts => {
    const s = sandbox.stats();
    const p = pdl.counts();
    const mx = new Set(dns.questions.filter((q) => q.startsWith('MX ')));
    return {
      sandbox: {
        calls: s.calls.match + s.calls.enrich + s.calls.bulk_enrich,
        match: s.calls.match,
        enrich: s.calls.enrich,
        bulkEnrich: s.calls.bulk_enrich,
        items: s.items.match + s.items.enrich + s.items.bulk_enrich,
        credits: s.creditsUsed,
      },
      pdl: { calls: p.calls.bulk + p.calls.enrich, itemsSent: p.items.sent, credits: p.creditsSpent },
      mxDomains: mx.size,
      dnsQuestions: dns.questions.length,
      siteRequests: sites.reduce((n, s) => n + s.requests.length, 0),
    };
  };
  process.on('message', () => process.send?.(counts()));
  const ready: Outside = {
    sandboxUrl: sandbox.url,
    pdlUrl: pdl.url,
    dns: dns.server,
    siteAddress: withSites ? siteAddress : null,
  };
  process.send?.(ready);
  process.on('disconnect', () => process.exit(0));
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const mib = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MiB`;

async function measure(): Promise<void> {
  if (!DATABASE_URL) {
    console.error('bench:waterfall needs DATABASE_URL (a real PostgreSQL); REDIS_URL is optional.');
    process.exit(2);
  }
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { stdio: 'inherit' });
  const outside = await new Promise<Outside>((resolve) =>
    child.once('message', (m) => resolve(m as Outside)),
  );
  const outsideCounts = () =>
    new Promise<OutsideCounts>((resolve) => {
      child.once('message', (m) => resolve(m as OutsideCounts));
      child.send('counts');
    });

  // What the web provider can fill, from the provider itself (it is asked while one is empty).
  const probe = createWebProvider({
    dnsServers: [outside.dns],
    dnsTimeoutMs: 1_000,
    fetchTimeoutMs: 1_000,
    maxPageBytes: 1024,
    hostConcurrency: 1,
    concurrency: 1,
    allowedCidrs: [],
    userAgentToken: 'GTM-Enrich',
  });
  const webFills = probe.fills;
  await probe.close();

  await withFreshDatabase(DATABASE_URL, async (databaseUrl) => {
    const config = loadConfig({
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: '0',
      METRICS_PORT: '0',
      DATABASE_URL: databaseUrl,
      ...(REDIS_URL ? { REDIS_URL } : {}),
      QUEUE_PREFIX: `bench-wf-${randomBytes(4).toString('hex')}`,
      BOOTSTRAP_API_KEY: API_KEY,
      DNS_SERVERS: outside.dns,
      ...TUNING,
      ...(outside.siteAddress ? { OUTBOUND_ALLOWED_CIDRS: `${outside.siteAddress}/32` } : {}),
    });
    const none = { stop: async () => {} };
    const system = await createSystem({
      config,
      logger: pino({ level: 'warn' }),
      databaseUrl,
      roles: { api: true, worker: true },
      providers: {
        available: [
          { ...none, name: 'sandbox', baseUrl: outside.sandboxUrl, apiKey: 'sandbox' },
          { ...none, name: 'pdl', baseUrl: outside.pdlUrl, apiKey: PDL_KEY },
          { ...none, name: 'web', baseUrl: '', apiKey: '' },
        ],
        waterfall: WATERFALL,
        stop: async () => {},
      },
    });
    const baseUrl = (await system.start())!;
    const getJob = async (id: string) =>
      (await (await fetch(`${baseUrl}/api/v1/jobs/${id}`, { headers: AUTH })).json()) as Job;

    async function run(domains: string[]) {
      const before = await outsideCounts();
      const startRss = process.memoryUsage().rss;
      let peakRss = startRss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }, 50);
      const form = new FormData();
      form.append('file', new File([['domain', ...domains].join('\n')], 'bench.csv', { type: 'text/csv' }));
      const started = performance.now();
      const res = await fetch(`${baseUrl}/api/v1/uploads`, { method: 'POST', body: form, headers: AUTH });
      if (res.status !== 202) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
      let job = (await res.json()) as Job;
      while (job.status !== 'completed' && job.status !== 'paused' && job.status !== 'failed') {
        await new Promise((r) => setTimeout(r, 250));
        job = await getJob(job.id);
      }
      const wallSeconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const after = await outsideCounts();
      const delta = {
        sandbox: after.sandbox.calls - before.sandbox.calls,
        sandboxMatch: after.sandbox.match - before.sandbox.match,
        sandboxEnrich:
          after.sandbox.enrich + after.sandbox.bulkEnrich - before.sandbox.enrich - before.sandbox.bulkEnrich,
        pdl: after.pdl.calls - before.pdl.calls,
        sandboxItems: after.sandbox.items - before.sandbox.items,
        pdlItems: after.pdl.itemsSent - before.pdl.itemsSent,
        webLookups: after.mxDomains - before.mxDomains,
        dnsQuestions: after.dnsQuestions - before.dnsQuestions,
        siteRequests: after.siteRequests - before.siteRequests,
      };
      return { job, wallSeconds, peakRss, startRss, delta };
    }

    async function companiesOf(jobId: string): Promise<Company[]> {
      const out: Company[] = [];
      let cursor: string | null = null;
      do {
        const url = `${baseUrl}/api/v1/jobs/${jobId}/companies?limit=500${cursor ? `&cursor=${cursor}` : ''}`;
        const page = (await (await fetch(url, { headers: AUTH })).json()) as CompanyList;
        out.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    }

    /** Companies with a field `fills` names not filled by any of `earlier`: the ones the next provider is for. */
    const stillEmpty = (companies: Company[], earlier: ProviderName[], fills: readonly EnrichedField[]) =>
      companies.filter((c) =>
        fills.some((f) => {
          const from = provenanceOf(c.provenance, f)?.provider;
          return from === undefined || !earlier.includes(from);
        }),
      ).length;

    const ledgerCalls = (job: Job, provider: ProviderName) =>
      job.usage.providers.find((p) => p.provider === provider)?.provider_calls ?? 0;

    const per1000 = (calls: number) => (calls / DOMAINS) * 1000;
    let ok = true;
    try {
      const domains = Array.from({ length: DOMAINS }, (_, i) => domainOf(i));
      const first = await run(domains);
      const { job, delta } = first;
      const companies = await companiesOf(job.id);
      const forPdl = stillEmpty(companies, ['sandbox'], FIRMOGRAPHIC_FIELDS);
      const forWeb = stillEmpty(companies, ['sandbox', 'pdl'], webFills);
      const withSites = domains.filter(hasSite).length;

      console.log(
        `provider waterfall ${WATERFALL.join(',')}: ${fmt(DOMAINS)} domains, queue ${system.queue.kind}, ` +
          `${outside.siteAddress ? `${fmt(withSites)} with a homepage on loopback` : 'no homepages (DNS only)'}, ` +
          `WORKER_CONCURRENCY=${config.WORKER_CONCURRENCY}, PROVIDER_BATCH_WINDOW_MS=${config.PROVIDER_BATCH_WINDOW_MS}, ` +
          `WEB_CONCURRENCY=${config.WEB_CONCURRENCY}, node ${process.version}`,
      );
      console.log(
        `  job ${job.status}: ${fmt(job.counts.enriched)} enriched, ${fmt(job.counts.not_found)} not found, ` +
          `${fmt(job.counts.failed)} failed of ${fmt(job.total)}`,
      );
      const workerSeconds =
        job.started_at && job.finished_at
          ? (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000
          : first.wallSeconds;
      console.log(
        `  wall ${fmt(first.wallSeconds, 1)} s upload to completion, ${fmt(DOMAINS / first.wallSeconds, 1)} companies/s ` +
          `(started→finished ${fmt(workerSeconds, 1)} s); peak RSS ${mib(first.peakRss)} ` +
          `(${mib(first.startRss)} before the upload; max RSS by the OS ${fmt(process.resourceUsage().maxRSS / 1024)} MiB)`,
      );
      const rows: [ProviderName, number, string][] = [
        [
          'sandbox',
          delta.sandbox,
          `match ${fmt(delta.sandboxMatch)} + enrich ${fmt(delta.sandboxEnrich)}, ${fmt(delta.sandboxItems / delta.sandbox, 1)} items a call of 50 at most`,
        ],
        ['pdl', delta.pdl, `bulk, ${fmt(delta.pdlItems / delta.pdl, 1)} items a call of 100 at most`],
      ];
      for (const [provider, counted, detail] of rows) {
        const ledger = ledgerCalls(job, provider);
        const agree = ledger === counted;
        const withinGoal = per1000(counted) <= CALLS_GOAL_PER_1000;
        ok &&= agree;
        console.log(
          `  ${provider}: ${fmt(per1000(counted), 1)} calls per 1,000 domains by the emulator (${fmt(counted)}: ${detail}), ` +
            `${fmt(per1000(ledger), 1)} by the ledger (${fmt(ledger)}) ${agree ? 'agree' : 'DISAGREE'}; ` +
            `goal ≤ ${CALLS_GOAL_PER_1000}: ${withinGoal ? 'met' : 'MISSED'}`,
        );
      }
      console.log(
        `  pdl asked about ${fmt(delta.pdlItems)} companies; ${fmt(forPdl)} had a firmographic field the sandbox left empty`,
      );
      console.log(
        `  web looked up ${fmt(delta.webLookups)} domains (${fmt(delta.dnsQuestions)} DNS questions, ${fmt(delta.siteRequests)} site requests, ` +
          `ledger ${fmt(ledgerCalls(job, 'web'))} calls); ${fmt(forWeb)} had a field it fills left empty by sandbox and pdl`,
      );
      if (job.status !== 'completed' || job.counts.failed > 0 || companies.length !== DOMAINS) ok = false;

      const again = await run(domains);
      const d = again.delta;
      const rerunCalls = d.sandbox + d.pdl + d.webLookups + d.dnsQuestions;
      console.log(
        `  re-run of the same list (${again.job.status}, ${fmt(again.wallSeconds, 1)} s, ${fmt(again.job.usage.cache_hits)} cache hits): ` +
          `sandbox ${d.sandbox}, pdl ${d.pdl}, web ${d.webLookups} lookups (${d.dnsQuestions} DNS questions); ` +
          `ledger ${WATERFALL.map((p) => `${p} ${ledgerCalls(again.job, p)}`).join(', ')}; goal 0: ${rerunCalls === 0 ? 'met' : 'MISSED'}`,
      );
      if (again.job.status !== 'completed') ok = false;
    } finally {
      await system.stop();
    }
    if (!ok) process.exitCode = 1;
  });
  child.disconnect();
}

if (process.argv[2] === 'serve') await serve();
else await measure();
