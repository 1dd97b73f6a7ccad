/**
 * What the public web says about one company domain, with no key and no contract: its DNS (MX →
 * email provider; SPF includes and TXT verification records → tools in use) and its homepage
 * (HTTPS first, then HTTP; robots.txt respected; one redirect chain; size and time limits; every
 * address checked by the SSRF guard). Each value carries the method that found it. A site that is
 * down, slow or refusing us is a fact about the site, recorded in `homepage`, never an error: only
 * our own resolver failing is (ProviderError `transient`).
 */
import { createSsrfGuard, type SsrfGuard } from '../../webhooks/ssrf-guard';
import { ProviderError } from '../provider';
import { createWebResolver, DnsLookupError, type WebResolver } from './dns-resolver';
import { extractPage, type PageFacts, type SocialProfiles, type Sourced } from './html-extract';
import { createKeyedLimiter } from './limiter';
import { robotsAllows } from './robots';
import { createSafeFetcher, FetchError, type FetchedPage, type SafeFetcher } from './safe-fetch';
import { emailProviderOf, technologiesOfPage, toolsFromTxt, type WebTechnology } from './signatures';

export type { SocialProfiles, Sourced, WebTechnology };

/**
 * - fetched: the homepage was read (`status` 2xx, HTML);
 * - robots_disallowed: robots.txt asks agents like ours to keep off `/`;
 * - no_address: neither the domain nor www. has an A/AAAA record;
 * - refused: the site resolves to (or redirects to) an address the SSRF guard refuses;
 * - unreachable / timeout / redirects: the site did not answer usefully;
 * - http_error / not_html: it answered 4xx/5xx, or something other than a page.
 */
export type HomepageStatus =
  | 'fetched'
  | 'robots_disallowed'
  | 'no_address'
  | 'refused'
  | 'unreachable'
  | 'timeout'
  | 'redirects'
  | 'http_error'
  | 'not_html';

export type WebCompany = {
  domain: string;
  /** The domain has an A, AAAA or MX record. */
  dnsPresent: boolean;
  emailProvider: Sourced<string> | null;
  /** Tools from DNS (`dns:spf`, `dns:txt`) and from the homepage and its headers (`html:…`, `header:…`). */
  technologies: WebTechnology[];
  /** The homepage's origin after redirects (`https://www.acme.com`). */
  website: Sourced<string> | null;
  homepage: { status: HomepageStatus; url: string | null; detail: string | null };
  // And what the homepage said (html-extract.ts): name, description, logo, profiles, address,
  // founding year, employee count, each null when it said nothing.
} & Omit<PageFacts, 'evidence'>;

export type WebLookupOptions = {
  /** DNS servers, `ip[:port]` (DNS_SERVERS); empty = the system's. */
  dnsServers: readonly string[];
  /** One DNS query's time before it is tried again, in ms (DNS_TIMEOUT_MS). */
  dnsTimeoutMs: number;
  /** Everything one homepage may take, robots.txt and redirects included, in ms (WEB_FETCH_TIMEOUT_MS). */
  fetchTimeoutMs: number;
  /** Bytes of a page read, after decompression; the rest is not (WEB_MAX_PAGE_BYTES). */
  maxPageBytes: number;
  /** Requests at once to one host (WEB_HOST_CONCURRENCY). */
  hostConcurrency: number;
  /** Ranges the SSRF guard lets through anyway (OUTBOUND_ALLOWED_CIDRS; tests: loopback). */
  allowedCidrs: readonly string[];
  /** The User-Agent's product token, also the name robots.txt groups are matched against. */
  userAgentToken: string;
  /** The URL in the User-Agent where a site owner learns who reads their homepage (WEB_CONTACT_URL); none when unset. */
  contactUrl?: string;
  /** Tests and the benchmark only: stand-in ports for :80 and :443. */
  defaultPorts?: { 'http:'?: number; 'https:'?: number };
};

export type WebLookup = {
  lookup(domain: string, signal?: AbortSignal): Promise<WebCompany>;
  /** Whether the domain has an A, AAAA or MX record; throws `transient` when our resolver fails. */
  present(domain: string): Promise<boolean>;
  close(): Promise<void>;
};

/** RFC 9309 asks crawlers to read at least 500 KiB of a robots.txt. */
const ROBOTS_MAX_BYTES = 500 * 1024;

function resolverFailure(err: unknown, domain: string): ProviderError | null {
  if (err instanceof DnsLookupError && err.resolverFailed) {
    return new ProviderError('transient', `the DNS resolver failed on ${domain}: ${err.code}`, {
      reachedProvider: false,
      cause: err,
    });
  }
  return null;
}

/** The value of a settled DNS lookup; [] when the domain's own servers failed; throws when ours did. */
function settled<T>(result: PromiseSettledResult<T[]>, domain: string): T[] {
  if (result.status === 'fulfilled') return result.value;
  const failure = resolverFailure(result.reason, domain);
  if (failure) throw failure;
  if (result.reason instanceof DnsLookupError) return [];
  throw result.reason;
}

function emailProviderFrom(
  domain: string,
  mx: { exchange: string; priority: number }[],
): Sourced<string> | null {
  const known = emailProviderOf(mx);
  if (known) return { value: known, method: 'dns:mx' };
  const preferred = [...mx].sort((a, b) => a.priority - b.priority)[0]?.exchange.toLowerCase();
  // A null MX (".", RFC 7505) says the domain takes no mail.
  if (!preferred || preferred === '' || preferred === '.') return null;
  if (preferred === domain || preferred.endsWith(`.${domain}`))
    return { value: 'Self-hosted', method: 'dns:mx' };
  return null;
}

export function createWebLookup(opts: WebLookupOptions): WebLookup {
  const resolver: WebResolver = createWebResolver({ servers: opts.dnsServers, timeoutMs: opts.dnsTimeoutMs });
  const guard: SsrfGuard = createSsrfGuard(opts.allowedCidrs, {
    resolve: async (host) => {
      try {
        return await resolver.addresses(host);
      } catch (err) {
        // The socket's lookup wants a Node-style error: the guard passes it on to undici.
        throw Object.assign(new Error((err as Error).message), {
          code: (err as { code?: string }).code ?? 'ENOTFOUND',
        });
      }
    },
  });
  const fetcher: SafeFetcher = createSafeFetcher({
    guard,
    userAgent: opts.contactUrl
      ? `${opts.userAgentToken}/1.0 (+${opts.contactUrl})`
      : `${opts.userAgentToken}/1.0`,
    connectTimeoutMs: Math.max(1, Math.floor(opts.fetchTimeoutMs / 2)),
    connectionsPerOrigin: opts.hostConcurrency,
    defaultPorts: opts.defaultPorts,
  });
  const hosts = createKeyedLimiter(opts.hostConcurrency);

  async function homepage(
    host: string,
    signal: AbortSignal,
  ): Promise<{ status: HomepageStatus; page: FetchedPage | null; detail: string | null }> {
    // One lookup asks each origin's robots.txt once, for the first page and any redirect target.
    const robots = new Map<string, Promise<string | null>>();
    const robotsOf = (origin: string): Promise<string | null> => {
      let pending = robots.get(origin);
      if (!pending) {
        pending = fetcher
          .get(new URL('/robots.txt', origin), { maxBytes: ROBOTS_MAX_BYTES, signal, accept: 'text/plain' })
          .then((res) => {
            if (res.status >= 200 && res.status < 300) return res.body;
            // RFC 9309 §2.3.1: unavailable (4xx) allows everything; unreachable (5xx) disallows it.
            if (res.status >= 500) return 'User-agent: *\nDisallow: /';
            return null;
          });
        robots.set(origin, pending);
      }
      return pending;
    };
    const allowed = async (url: URL) => {
      const txt = await robotsOf(url.origin);
      return txt === null || robotsAllows(txt, opts.userAgentToken, `${url.pathname}${url.search}`);
    };

    let lastFailure: FetchError | null = null;
    for (const scheme of ['https:', 'http:'] as const) {
      const start = new URL(`${scheme}//${host}/`);
      try {
        if (!(await allowed(start)))
          return { status: 'robots_disallowed', page: null, detail: `${start.origin}/robots.txt` };
        const page = await fetcher.get(start, {
          maxBytes: opts.maxPageBytes,
          signal,
          beforeHop: (next) => allowed(next).catch(() => true),
        });
        if (page.status >= 400) return { status: 'http_error', page, detail: `HTTP ${page.status}` };
        const type = page.headers['content-type'] ?? 'text/html';
        if (!/html/i.test(type)) return { status: 'not_html', page, detail: type };
        return {
          status: 'fetched',
          page,
          detail: page.truncated ? `read the first ${opts.maxPageBytes} bytes` : null,
        };
      } catch (err) {
        if (!(err instanceof FetchError)) throw err;
        lastFailure = err;
        // Only a site that does not answer on HTTPS is tried again on HTTP.
        if (err.reason !== 'unreachable') break;
      }
    }
    const failure = lastFailure!;
    const status: HomepageStatus = failure.reason === 'robots' ? 'robots_disallowed' : failure.reason;
    return { status, page: null, detail: failure.message };
  }

  async function dnsOf(domain: string) {
    const [addresses, mx, txt] = await Promise.allSettled([
      resolver.addresses(domain),
      resolver.mx(domain),
      resolver.txt(domain),
    ]);
    return { addresses: settled(addresses, domain), mx: settled(mx, domain), txt: settled(txt, domain) };
  }

  return {
    async present(domain) {
      const [addresses, mx] = await Promise.allSettled([resolver.addresses(domain), resolver.mx(domain)]);
      return settled(addresses, domain).length > 0 || settled(mx, domain).length > 0;
    },

    async lookup(domain, callerSignal) {
      const dns = await dnsOf(domain);
      const company: WebCompany = {
        domain,
        dnsPresent: dns.addresses.length > 0 || dns.mx.length > 0,
        emailProvider: emailProviderFrom(domain, dns.mx),
        technologies: toolsFromTxt(dns.txt),
        name: null,
        description: null,
        website: null,
        logoUrl: null,
        socialProfiles: {},
        country: null,
        region: null,
        city: null,
        foundedYear: null,
        employeeCount: null,
        homepage: { status: 'no_address', url: null, detail: null },
      };

      let host: string | null = dns.addresses.length > 0 ? domain : null;
      if (!host) {
        const www = await resolver.addresses(`www.${domain}`).catch((err: unknown) => {
          const failure = resolverFailure(err, domain);
          if (failure) throw failure;
          return [];
        });
        if (www.length > 0) host = `www.${domain}`;
      }
      if (!host) return company;

      // The whole visit (robots.txt, the page, its redirects) holds one of the host's slots; its
      // time limit starts once it has one.
      const site = host;
      const { status, page, detail } = await hosts.run(site, () => {
        const deadline = AbortSignal.timeout(opts.fetchTimeoutMs);
        return homepage(site, callerSignal ? AbortSignal.any([deadline, callerSignal]) : deadline);
      });
      company.homepage = { status, url: page?.url.href ?? null, detail };
      if (!page) return company;

      company.website = { value: page.url.origin, method: 'http:final_url' };
      const facts = status === 'fetched' ? extractPage(page.body, page.url, domain) : null;
      const seen = new Set(company.technologies.map((t) => t.name));
      for (const tech of technologiesOfPage(facts?.evidence ?? null, page.headers)) {
        if (!seen.has(tech.name)) company.technologies.push(tech);
        seen.add(tech.name);
      }
      if (facts) {
        const { evidence: _evidence, ...found } = facts;
        Object.assign(company, found);
      }
      return company;
    },

    async close() {
      await fetcher.close();
    },
  };
}

/** One domain, start to end, with a lookup of its own (a script, a one-off check). */
export async function lookupWebCompany(domain: string, opts: WebLookupOptions): Promise<WebCompany> {
  const web = createWebLookup(opts);
  try {
    return await web.lookup(domain);
  } finally {
    await web.close();
  }
}
