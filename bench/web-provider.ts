/**
 * `npm run bench:web`: the web provider's throughput and memory against local sites, offline.
 * A child process serves BENCH_WEB_DOMAINS company domains: a DNS server on loopback (UDP+TCP)
 * answering A, MX and TXT for each, and one HTTP server answering every site's robots.txt and
 * homepage (a 4 KB WordPress page with JSON-LD and trackers) after BENCH_WEB_LATENCY_MS, as a
 * distant site would. This process runs the provider as a worker does: enrichFirmographics in
 * calls of maxBatchSize, WEB_CONCURRENCY domains at once. Every visit tries HTTPS first, which
 * fails its handshake on the plain-HTTP port, then HTTP: the dearer path of the two.
 * Prints domains a second and this process's peak RSS (the sites and DNS live in the child).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createWebProvider } from '../apps/server/src/providers/web/web-provider';
import { startLocalDnsServer } from '../apps/server/test/local-dns-server';
import { startLocalSites } from '../apps/server/test/local-sites';

const DOMAINS = Number(process.env.BENCH_WEB_DOMAINS ?? 1_000);
const LATENCY_MS = Number(process.env.BENCH_WEB_LATENCY_MS ?? 50);
const CONCURRENCY = Number(process.env.WEB_CONCURRENCY ?? 16);
const HOST_CONCURRENCY = Number(process.env.WEB_HOST_CONCURRENCY ?? 2);

const domainOf = (i: number) => `company-${String(i).padStart(5, '0')}.bench.test`;

async function serve(): Promise<void> {
  const page = readFileSync(
    fileURLToPath(new URL('../apps/server/src/providers/web/fixtures/wordpress-home.html', import.meta.url)),
    'utf8',
  );
  const dns = await startLocalDnsServer((name, type) => {
    if (!name.endsWith('.bench.test')) return 'NXDOMAIN';
    if (type === 'A') return { A: ['127.0.0.1'] };
    if (type === 'MX') return { MX: [{ exchange: 'aspmx.l.google.com', priority: 1 }] };
    if (type === 'TXT') {
      return { TXT: ['v=spf1 include:_spf.google.com include:sendgrid.net ~all', 'stripe-verification=x'] };
    }
    return {};
  });
  const sites = await startLocalSites((host, path) => (_req, res) => {
    setTimeout(() => {
      if (path === '/robots.txt')
        res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nDisallow: /wp-admin/\n');
      else if (path === '/') {
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', server: 'nginx' })
          .end(page.replaceAll('acme.test', host));
      } else res.writeHead(404).end();
    }, LATENCY_MS);
  });
  process.send?.({ dns: dns.server, port: sites.port });
  process.on('disconnect', () => process.exit(0));
}

async function measure(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { stdio: 'inherit' });
  const { dns, port } = await new Promise<{ dns: string; port: number }>((resolve) =>
    child.once('message', (m) => resolve(m as { dns: string; port: number })),
  );
  const web = createWebProvider({
    dnsServers: [dns],
    dnsTimeoutMs: 3_000,
    fetchTimeoutMs: 10_000,
    maxPageBytes: 1024 * 1024,
    hostConcurrency: HOST_CONCURRENCY,
    concurrency: CONCURRENCY,
    allowedCidrs: ['127.0.0.1/32'],
    userAgentToken: 'GTM-Enrich',
    contactUrl: 'https://gtm-enrich.test/bench',
    defaultPorts: { 'http:': port, 'https:': port },
  });

  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const ids = Array.from({ length: DOMAINS }, (_, i) => domainOf(i));
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += web.maxBatchSize) batches.push(ids.slice(i, i + web.maxBatchSize));

  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let named = 0;
  // As many calls in flight as a worker would have: enough to keep WEB_CONCURRENCY busy.
  const inFlight = Math.max(1, Math.ceil(CONCURRENCY / web.maxBatchSize) + 1);
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const result = await web.enrichFirmographics(batch);
        for (const f of result.values()) if (f && 'name' in f && f.name) named++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await web.close();
  child.disconnect();

  console.log(
    `web provider: ${DOMAINS} local domains, WEB_CONCURRENCY=${CONCURRENCY}, WEB_HOST_CONCURRENCY=${HOST_CONCURRENCY}, ` +
      `site latency ${LATENCY_MS} ms, node ${process.version}`,
  );
  console.log(`  ${(DOMAINS / seconds).toFixed(1)} domains/s (${seconds.toFixed(1)} s); ${named} named`);
  console.log(
    `  CPU of this process: ${((cpu.user + cpu.system) / 1000 / DOMAINS).toFixed(2)} ms a domain (user ${(cpu.user / 1e6).toFixed(1)} s, system ${(cpu.system / 1e6).toFixed(1)} s)`,
  );
  console.log(
    `  peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MiB, ${(startRss / 1024 / 1024).toFixed(0)} MiB before the first domain (max RSS by the OS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`,
  );
  if (named !== DOMAINS) process.exitCode = 1;
}

if (process.argv[2] === 'serve') await serve();
else await measure();
