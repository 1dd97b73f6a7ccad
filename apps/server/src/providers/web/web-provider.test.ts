/**
 * The web provider end to end, offline: a DNS server on loopback (UDP and TCP) and company sites
 * on loopback, reached through the real resolver, the SSRF guard and undici. Sites listen on
 * plain HTTP; the port that stands in for :443 is the same one, so every HTTPS attempt fails its
 * handshake and falls back, as against a site without TLS.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DnsReply,
  type LocalDnsServer,
  startLocalDnsServer,
  zone,
} from '../../../test/local-dns-server';
import { type LocalSites, type Sites, startLocalSites } from '../../../test/local-sites';
import { isProviderError } from '../provider';
import { lookupWebCompany } from './web-company';
import { createWebProvider, type WebProviderOptions } from './web-provider';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function dnsServer(answer: (name: string, type: string) => DnsReply): Promise<LocalDnsServer> {
  const dns = await startLocalDnsServer(answer);
  cleanups.push(() => dns.close());
  return dns;
}

async function sites(
  content: Sites | Parameters<typeof startLocalSites>[0],
  opts?: Parameters<typeof startLocalSites>[1],
): Promise<LocalSites> {
  const s = await startLocalSites(content, opts);
  cleanups.push(() => s.close());
  return s;
}

function options(
  dns: LocalDnsServer,
  port: number,
  over: Partial<WebProviderOptions> = {},
): WebProviderOptions {
  return {
    dnsServers: [dns.server],
    dnsTimeoutMs: 2_000,
    fetchTimeoutMs: 5_000,
    maxPageBytes: 1024 * 1024,
    hostConcurrency: 2,
    concurrency: 8,
    allowedCidrs: ['127.0.0.1/32'],
    userAgentToken: 'GTM-Enrich',
    contactUrl: 'https://gtm-enrich.test/docs/providers#web',
    defaultPorts: { 'http:': port, 'https:': port },
    ...over,
  };
}

const ACME_DNS = {
  'acme.test': {
    A: ['127.0.0.1'],
    MX: [
      { exchange: 'alt1.aspmx.l.google.com', priority: 5 },
      { exchange: 'aspmx.l.google.com', priority: 1 },
    ],
    TXT: [
      'v=spf1 include:_spf.google.com include:_spf.salesforce.com include:servers.mcsv.net include:sendgrid.net include:mail.zendesk.com include:mailgun.org include:amazonses.com ~all',
      'google-site-verification=abc123',
      'MS=ms44556677',
      'facebook-domain-verification=fb1',
      'atlassian-domain-verification=at1',
      'apple-domain-verification=ap1',
      'docusign=ds1',
      'stripe-verification=st1',
      'hubspot-developer-verification=hs1',
    ],
  },
};

describe('web provider: DNS signals', () => {
  it('names the email provider from MX and the tools from SPF and TXT records', async () => {
    const dns = await dnsServer(zone({ ...ACME_DNS, 'acme.test': { ...ACME_DNS['acme.test'], A: [] } }));
    const company = await lookupWebCompany('acme.test', options(dns, 1));
    expect(company.dnsPresent).toBe(true);
    expect(company.emailProvider).toEqual({ value: 'Google Workspace', method: 'dns:mx' });
    const tools = Object.fromEntries(company.technologies.map((t) => [t.name, t.method]));
    expect(tools).toEqual({
      'Google Workspace': 'dns:spf',
      Salesforce: 'dns:spf',
      Mailchimp: 'dns:spf',
      SendGrid: 'dns:spf',
      Zendesk: 'dns:spf',
      Mailgun: 'dns:spf',
      'Amazon SES': 'dns:spf',
      'Google (site verification)': 'dns:txt',
      'Microsoft 365': 'dns:txt',
      Facebook: 'dns:txt',
      Atlassian: 'dns:txt',
      Apple: 'dns:txt',
      DocuSign: 'dns:txt',
      Stripe: 'dns:txt',
      HubSpot: 'dns:txt',
    });
    // No A/AAAA on the domain nor on www.: no homepage is attempted.
    expect(company.homepage.status).toBe('no_address');
    expect(dns.questions).toContain('A www.acme.test');
  });

  it('calls mail on the domain itself self-hosted', async () => {
    const dns = await dnsServer(zone({ 'own.test': { MX: [{ exchange: 'mail.own.test', priority: 10 }] } }));
    const company = await lookupWebCompany('own.test', options(dns, 1));
    expect(company.emailProvider).toEqual({ value: 'Self-hosted', method: 'dns:mx' });
  });

  it('matches a domain with A, AAAA or MX records to itself; NXDOMAIN and no records are not found', async () => {
    const dns = await dnsServer(
      zone({
        'a.test': { A: ['127.0.0.1'] },
        'v6.test': { AAAA: ['::1'] },
        'mx.test': { MX: [{ exchange: 'mx.mail.test', priority: 10 }] },
        'empty.test': { TXT: ['v=spf1 -all'] },
      }),
    );
    const web = createWebProvider(options(dns, 1));
    cleanups.push(() => web.close());
    const matches = await web.matchBusinesses([
      'a.test',
      'V6.test.',
      'mx.test',
      'empty.test',
      'missing.test',
      'not a domain',
    ]);
    expect(matches).toEqual([
      { domain: 'a.test', businessId: 'a.test' },
      { domain: 'V6.test.', businessId: 'v6.test' },
      { domain: 'mx.test', businessId: 'mx.test' },
      { domain: 'empty.test', businessId: null },
      { domain: 'missing.test', businessId: null },
      { domain: 'not a domain', businessId: null },
    ]);
  });

  it('fails the call as transient when our own resolver does not answer, not the company', async () => {
    const dns = await dnsServer(() => 'TIMEOUT');
    const web = createWebProvider(options(dns, 1, { dnsTimeoutMs: 100 }));
    cleanups.push(() => web.close());
    const err = await web.matchBusinesses(['acme.test']).catch((e: unknown) => e);
    expect(isProviderError(err) && err.kind).toBe('transient');
    expect(isProviderError(err) && err.reachedProvider).toBe(false);
  });

  it("takes a domain's own failing name servers (SERVFAIL) as no answer, not as our failure", async () => {
    const dns = await dnsServer(zone({ 'broken.test': 'SERVFAIL', 'ok.test': { A: ['127.0.0.1'] } }));
    const web = createWebProvider(options(dns, 1));
    cleanups.push(() => web.close());
    expect(await web.matchBusinesses(['broken.test', 'ok.test'])).toEqual([
      { domain: 'broken.test', businessId: null },
      { domain: 'ok.test', businessId: 'ok.test' },
    ]);
  });
});

describe('web provider: the homepage', () => {
  it('reads name, description, logo, profiles, address, founding, size and technologies, HTTPS falling back to HTTP', async () => {
    const site = await sites({
      'acme.test': {
        '/robots.txt': 'User-agent: *\nDisallow: /wp-admin/\n',
        '/': {
          headers: { server: 'nginx', 'x-powered-by': 'PHP/8.2', 'cf-ray': '8a1b-AMS' },
          body: fixture('wordpress-home.html'),
        },
      },
    });
    const dns = await dnsServer(zone(ACME_DNS));
    const web = createWebProvider(options(dns, site.port));
    cleanups.push(() => web.close());

    const company = await web.lookup('acme.test');
    expect(company.homepage).toEqual({ status: 'fetched', url: 'http://acme.test/', detail: null });
    expect(company.website).toEqual({ value: 'http://acme.test', method: 'http:final_url' });
    expect(company.name?.value).toBe('Acme Robotics');
    expect(company.foundedYear?.value).toBe(2016);
    expect(company.employeeCount?.value).toBe(240);
    expect(company.logoUrl?.value).toBe('https://acme.test/wp-content/uploads/2024/05/logo.svg');
    const tech = company.technologies.map((t) => `${t.name} ${t.method}`);
    expect(tech).toEqual(
      expect.arrayContaining([
        'Stripe dns:txt',
        'WordPress html:meta[generator]',
        'Google Tag Manager html:script',
        'Intercom html:script',
        'Cloudflare header:cf-ray',
        'nginx header:server',
      ]),
    );
    // HubSpot is known from DNS already; the page does not add it twice.
    expect(company.technologies.filter((t) => t.name === 'HubSpot')).toHaveLength(1);
    // HTTPS was tried first (a TLS hello the plain-HTTP port could not read), then robots.txt
    // and the page over HTTP.
    expect(site.notHttp).toBe(1);
    expect(site.requests).toEqual(['acme.test /robots.txt', 'acme.test /']);

    const firmographics = await web.enrichFirmographics(['acme.test']);
    expect(firmographics.get('acme.test')).toEqual({
      name: 'Acme Robotics',
      industry: null,
      companySize: '201-500',
      revenueRange: 'Unknown',
      country: 'US',
      region: 'PA',
      city: 'Pittsburgh',
      website: 'http://acme.test',
      linkedinUrl: 'https://www.linkedin.com/company/acme-robotics',
      description: 'Acme Robotics builds warehouse robots that pick, pack and ship & never sleep.',
      signals: expect.objectContaining({
        emailProvider: 'Google Workspace',
        employeeCount: expect.any(Number),
        socialProfiles: expect.objectContaining({
          linkedin: 'https://www.linkedin.com/company/acme-robotics',
        }),
      }),
    });
    const signals = firmographics.get('acme.test') as { signals: { technologies: { name: string }[] } };
    expect(signals.signals.technologies.map((t) => t.name)).toContain('WordPress');
  });

  it('sends a User-Agent naming the project and a URL', async () => {
    const agents: string[] = [];
    const site = await sites((_host, path) => (req, res) => {
      agents.push(String(req.headers['user-agent']));
      res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/html' }).end('<title>X</title>');
    });
    const dns = await dnsServer(zone({ 'ua.test': { A: ['127.0.0.1'] } }));
    await lookupWebCompany('ua.test', options(dns, site.port));
    expect(agents).toEqual([
      'GTM-Enrich/1.0 (+https://gtm-enrich.test/docs/providers#web)',
      'GTM-Enrich/1.0 (+https://gtm-enrich.test/docs/providers#web)',
    ]);
  });

  it('follows a redirect to www. and reads the page there', async () => {
    const site = await sites({
      'globex.test': { '/': { status: 301, headers: { location: 'http://www.globex.test/en/' } } },
      'www.globex.test': { '/en/': fixture('nextjs-home.html') },
    });
    const dns = await dnsServer(
      zone({ 'globex.test': { A: ['127.0.0.1'] }, 'www.globex.test': { A: ['127.0.0.1'] } }),
    );
    const company = await lookupWebCompany('globex.test', options(dns, site.port));
    expect(company.homepage.status).toBe('fetched');
    expect(company.homepage.url).toBe('http://www.globex.test/en/');
    expect(company.name).toEqual({ value: 'Globex', method: 'html:title' });
    expect(company.technologies.map((t) => t.name)).toEqual(expect.arrayContaining(['Next.js', 'Segment']));
    // The redirect target's own robots.txt was asked before it was read.
    expect(site.requests).toContain('www.globex.test /robots.txt');
  });

  it('skips the homepage when robots.txt disallows /, and keeps the DNS signals', async () => {
    const site = await sites({
      'acme.test': {
        '/robots.txt': 'User-agent: GTM-Enrich\nDisallow: /\n\nUser-agent: *\nAllow: /\n',
        '/': fixture('wordpress-home.html'),
      },
    });
    const dns = await dnsServer(zone(ACME_DNS));
    const company = await lookupWebCompany('acme.test', options(dns, site.port));
    expect(company.homepage.status).toBe('robots_disallowed');
    expect(company.name).toBeNull();
    expect(company.emailProvider?.value).toBe('Google Workspace');
    expect(company.technologies.map((t) => t.name)).toContain('Stripe');
    expect(site.requests).toEqual(['acme.test /robots.txt']);
  });

  it('keeps off a site whose robots.txt fails (5xx), as RFC 9309 asks', async () => {
    const site = await sites({
      'flaky.test': { '/robots.txt': { status: 503, body: 'busy' }, '/': '<title>Flaky</title>' },
    });
    const dns = await dnsServer(zone({ 'flaky.test': { A: ['127.0.0.1'] } }));
    const company = await lookupWebCompany('flaky.test', options(dns, site.port));
    expect(company.homepage.status).toBe('robots_disallowed');
    expect(site.requests).toEqual(['flaky.test /robots.txt']);
  });

  it('reads a gzip-compressed page, and a page in another charset', async () => {
    const html = '<html><head><meta property="og:site_name" content="Zürich Größe AG"></head></html>';
    const site = await sites({
      'gz.test': {
        '/': (_req, res) =>
          res
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-encoding': 'gzip' })
            .end(gzipSync(html)),
      },
      'latin.test': {
        '/': (_req, res) =>
          res
            .writeHead(200, { 'content-type': 'text/html; charset=ISO-8859-1' })
            .end(Buffer.from(html, 'latin1')),
      },
    });
    const dns = await dnsServer(
      zone({ 'gz.test': { A: ['127.0.0.1'] }, 'latin.test': { A: ['127.0.0.1'] } }),
    );
    for (const domain of ['gz.test', 'latin.test']) {
      const company = await lookupWebCompany(domain, options(dns, site.port));
      expect(company.name?.value, domain).toBe('Zürich Größe AG');
    }
  });

  it('stops a compressed page at maxPageBytes of its decompressed size (a zip bomb stops there)', async () => {
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('<title>Bomb</title>'), Buffer.alloc(64 * 1024 * 1024, 32)]),
    );
    const site = await sites({
      'bomb.test': {
        '/': (_req, res) =>
          res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(bomb),
      },
    });
    const dns = await dnsServer(zone({ 'bomb.test': { A: ['127.0.0.1'] } }));
    const company = await lookupWebCompany('bomb.test', options(dns, site.port, { maxPageBytes: 64 * 1024 }));
    expect(company.homepage).toMatchObject({
      status: 'fetched',
      detail: `read the first ${64 * 1024} bytes`,
    });
    expect(company.name?.value).toBe('Bomb');
  });

  it('stops after 5 redirects', async () => {
    const site = await sites((_host, path) =>
      path === '/robots.txt' ? undefined : { status: 302, headers: { location: `/hop${path.length}` } },
    );
    const dns = await dnsServer(zone({ 'loop.test': { A: ['127.0.0.1'] } }));
    const company = await lookupWebCompany('loop.test', options(dns, site.port));
    expect(company.homepage.status).toBe('redirects');
    expect(site.requests.filter((r) => !r.endsWith('/robots.txt'))).toHaveLength(6);
  });

  it('reads at most maxPageBytes of a page, then drops the connection', async () => {
    let finished = false;
    const head = '<html><head><meta property="og:site_name" content="Huge Pages Inc"></head><body>';
    const site = await sites((_host, path) => (_req, res) => {
      if (path !== '/') return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write(head);
      const filler = `<p>${'x'.repeat(64 * 1024)}</p>`;
      let sent = 0;
      const more = () => {
        while (sent < 160) {
          sent++;
          if (!res.write(filler)) return res.once('drain', more);
        }
        res.end('<script src="https://js.driftt.com/include/x.js"></script></body></html>', () => {
          finished = true;
        });
      };
      more();
    });
    const dns = await dnsServer(zone({ 'huge.test': { A: ['127.0.0.1'] } }));
    const company = await lookupWebCompany(
      'huge.test',
      options(dns, site.port, { maxPageBytes: 256 * 1024 }),
    );
    expect(company.homepage.status).toBe('fetched');
    expect(company.homepage.detail).toBe(`read the first ${256 * 1024} bytes`);
    expect(company.name?.value).toBe('Huge Pages Inc');
    // The script at the end of 10 MiB was never read, and the server never got to send it.
    expect(company.technologies.map((t) => t.name)).not.toContain('Drift');
    expect(finished).toBe(false);
  });

  it('gives up on a site that does not answer in time, keeping the DNS signals', async () => {
    const site = await sites((_host, path) => (_req, res) => {
      if (path === '/robots.txt') return res.writeHead(404).end();
      // Headers, then nothing: a site that hangs mid-answer.
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<html><head>');
    });
    const dns = await dnsServer(zone({ ...ACME_DNS }));
    const started = performance.now();
    const company = await lookupWebCompany('acme.test', options(dns, site.port, { fetchTimeoutMs: 600 }));
    const elapsed = performance.now() - started;
    expect(company.homepage.status).toBe('timeout');
    expect(company.emailProvider?.value).toBe('Google Workspace');
    expect(elapsed).toBeLessThan(3_000);
  });

  it('records a site that is down as unreachable, not as an error', async () => {
    const dns = await dnsServer(
      zone({ 'down.test': { A: ['127.0.0.1'], MX: [{ exchange: 'mx.zoho.com', priority: 10 }] } }),
    );
    // A port nothing listens on, for both schemes.
    const closed = await sites({});
    const port = closed.port;
    await closed.close();
    cleanups.pop();
    const web = createWebProvider(options(dns, port));
    cleanups.push(() => web.close());
    const company = await web.lookup('down.test');
    expect(company.homepage.status).toBe('unreachable');
    expect(company.emailProvider?.value).toBe('Zoho Mail');
    // Matched, and enriched with what DNS says (no firmographics): the company exists.
    expect(await web.matchBusinesses(['down.test'])).toEqual([
      { domain: 'down.test', businessId: 'down.test' },
    ]);
    expect((await web.enrichFirmographics(['down.test'])).get('down.test')).toMatchObject({
      name: null,
      website: null,
      signals: { emailProvider: 'Zoho Mail', technologies: [], socialProfiles: {} },
    });
  });
});

describe('web provider: concurrency', () => {
  /** A site answering after 100 ms that records the most requests it served at once, per host and in all. */
  async function slowSites() {
    const active = new Map<string, number>();
    const peak = { all: 0, perHost: 0 };
    let all = 0;
    const site = await sites((host, path) => (_req, res) => {
      const now = (active.get(host) ?? 0) + 1;
      active.set(host, now);
      all++;
      peak.perHost = Math.max(peak.perHost, now);
      peak.all = Math.max(peak.all, all);
      setTimeout(() => {
        active.set(host, (active.get(host) ?? 1) - 1);
        all--;
        if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>${host}</title>`);
        else res.writeHead(404).end();
      }, 100);
    });
    return { site, peak };
  }

  it('visits one host at most WEB_HOST_CONCURRENCY at a time', async () => {
    const { site, peak } = await slowSites();
    const dns = await dnsServer(zone({ 'busy.test': { A: ['127.0.0.1'] } }));
    const web = createWebProvider(options(dns, site.port, { hostConcurrency: 1, concurrency: 8 }));
    cleanups.push(() => web.close());
    const lookups = await Promise.all([1, 2, 3, 4].map(() => web.lookup('busy.test')));
    expect(lookups.every((c) => c.homepage.status === 'fetched')).toBe(true);
    expect(peak.perHost).toBe(1);
  });

  it('looks up at most WEB_CONCURRENCY domains at once', async () => {
    const { site, peak } = await slowSites();
    const names = ['a', 'b', 'c', 'd', 'e', 'f'].map((l) => `${l}.test`);
    const dns = await dnsServer(zone(Object.fromEntries(names.map((n) => [n, { A: ['127.0.0.1'] }]))));
    const web = createWebProvider(options(dns, site.port, { concurrency: 2 }));
    cleanups.push(() => web.close());
    const result = await web.enrichFirmographics(names);
    expect([...result.values()].map((f) => f && 'name' in f && f.name)).toEqual(names);
    expect(peak.all).toBe(2);
  });
});

describe('web provider: SSRF guard', () => {
  it.each([
    ['loopback', { A: ['127.0.0.1'] }],
    ['private', { A: ['10.1.2.3'] }],
    ['cloud metadata', { A: ['169.254.169.254'] }],
    ['IPv4-mapped loopback', { AAAA: ['::ffff:127.0.0.1'] }],
    ['a public and a private address', { A: ['127.0.0.2', '127.0.0.1'] }],
  ])('refuses a name resolving to %s when loopback is not allowed', async (_label, records) => {
    const internal = await sites({
      'evil.test': { '/': '<title>internal admin</title>', '/robots.txt': '' },
    });
    const dns = await dnsServer(zone({ 'evil.test': records }));
    const company = await lookupWebCompany(
      'evil.test',
      options(dns, internal.port, { allowedCidrs: ['127.0.0.2/32'] }),
    );
    expect(company.dnsPresent).toBe(true);
    expect(company.homepage.status).toBe('refused');
    expect(company.name).toBeNull();
    expect(internal.connections).toBe(0);
  });

  it('refuses a redirect to a private name or address, mid-chain', async () => {
    // The public-looking site lives on 127.0.0.2 (allowed); the internal one on 127.0.0.1 (not).
    const internal = await sites({ 'internal.test': { '/': '<title>internal admin</title>' } });
    const site = await sites(
      {
        'good.test': { '/': { status: 302, headers: { location: 'http://internal.test/' } } },
        'meta.test': {
          '/': { status: 307, headers: { location: 'http://169.254.169.254/latest/meta-data/' } },
        },
        'mapped.test': { '/': { status: 302, headers: { location: 'http://[::ffff:127.0.0.1]/' } } },
      },
      { address: '127.0.0.2', port: internal.port },
    );
    const dns = await dnsServer(
      zone({
        'good.test': { A: ['127.0.0.2'] },
        'meta.test': { A: ['127.0.0.2'] },
        'mapped.test': { A: ['127.0.0.2'] },
        'internal.test': { A: ['127.0.0.1'] },
      }),
    );
    for (const domain of ['good.test', 'meta.test', 'mapped.test']) {
      const company = await lookupWebCompany(
        domain,
        options(dns, site.port, { allowedCidrs: ['127.0.0.2/32'] }),
      );
      expect(company.homepage.status, domain).toBe('refused');
    }
    expect(site.requests.filter((r) => !r.endsWith('/robots.txt'))).toEqual([
      'good.test /',
      'meta.test /',
      'mapped.test /',
    ]);
    expect(internal.connections).toBe(0);
  });

  it('refuses, at connect time, a name whose DNS answer turns private after the first lookup (rebinding)', async () => {
    const internal = await sites({ 'rebind.test': { '/': '<title>internal admin</title>' } });
    const site = await sites(
      { 'rebind.test': { '/': '<title>Rebind Co</title>' } },
      { address: '127.0.0.2', port: internal.port },
    );
    // The first A answer is the public-looking address, every later one the internal address.
    let asked = 0;
    const dns = await dnsServer((name, type) => {
      if (name !== 'rebind.test') return 'NXDOMAIN';
      if (type !== 'A') return {};
      asked++;
      return { A: [asked === 1 ? '127.0.0.2' : '127.0.0.1'] };
    });
    const company = await lookupWebCompany(
      'rebind.test',
      options(dns, site.port, { allowedCidrs: ['127.0.0.2/32'] }),
    );
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(company.homepage.status).toBe('refused');
    expect(internal.connections).toBe(0);
  });

  it('reaches a loopback site only once the test setting allows the range', async () => {
    const site = await sites({ 'local.test': { '/': '<title>Local Co</title>' } });
    const dns = await dnsServer(zone({ 'local.test': { A: ['127.0.0.1'] } }));
    const refused = await lookupWebCompany('local.test', options(dns, site.port, { allowedCidrs: [] }));
    expect(refused.homepage.status).toBe('refused');
    expect(site.connections).toBe(0);
    const allowed = await lookupWebCompany(
      'local.test',
      options(dns, site.port, { allowedCidrs: ['127.0.0.1/32'] }),
    );
    expect(allowed.name?.value).toBe('Local Co');
  });
});
