/**
 * DNS for the web provider: MX, TXT and addresses through one `node:dns` Resolver (c-ares), pointed
 * at DNS_SERVERS when set (tests, air-gapped installations), else the system's servers. c-ares
 * keeps no cache, so every lookup asks again: the SSRF guard checks the very answer it connects to.
 */
import type { LookupAddress } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { createLimiter } from './limiter';

/** A name that does not exist or has no record of the type asked: an answer, not a failure. */
const NO_ANSWER_CODES = new Set(['ENOTFOUND', 'ENODATA']);
/**
 * Failures of our own resolver (unreachable, refusing us, too slow), as opposed to one domain's
 * name servers failing (ESERVFAIL): the former is `transient` for the whole call.
 */
const RESOLVER_FAILURE_CODES = new Set([
  'ETIMEOUT',
  'ECONNREFUSED',
  'EREFUSED',
  'ECANCELLED',
  'EOF',
  'EFILE',
  'ENOMEM',
  'EDESTRUCTION',
  'ECONNRESET',
]);

export class DnsLookupError extends Error {
  constructor(
    readonly host: string,
    readonly rrtype: string,
    readonly code: string,
    /** True when our resolver failed rather than the domain's own name servers. */
    readonly resolverFailed: boolean,
  ) {
    super(`DNS ${rrtype} ${host}: ${code}`);
    this.name = 'DnsLookupError';
  }
}

export type WebResolver = {
  /** MX hosts; [] when the name does not exist or has none. */
  mx(name: string): Promise<{ exchange: string; priority: number }[]>;
  /** TXT records, each joined from its strings; [] when none. */
  txt(name: string): Promise<string[]>;
  /** A and AAAA addresses; [] when none. Rejects only when both lookups failed. */
  addresses(name: string): Promise<LookupAddress[]>;
};

export type WebResolverOptions = {
  /** `ip` or `ip:port` (`[v6]:port`) of the servers to ask (DNS_SERVERS); empty = the system's. */
  servers: readonly string[];
  /** Time one query may take before it is tried again, in ms (DNS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Queries in flight at once across every lookup. Default 64. */
  maxInFlight?: number;
};

/** Tries per query: one retry covers a lost UDP packet. */
const DNS_TRIES = 2;

export function createWebResolver(opts: WebResolverOptions): WebResolver {
  const resolver = new Resolver({ timeout: opts.timeoutMs, tries: DNS_TRIES });
  if (opts.servers.length > 0) resolver.setServers([...opts.servers]);
  const limiter = createLimiter(opts.maxInFlight ?? 64);

  async function ask<T>(name: string, rrtype: string, query: () => Promise<T[]>): Promise<T[]> {
    try {
      return await limiter.run(query);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
      if (NO_ANSWER_CODES.has(code)) return [];
      throw new DnsLookupError(name, rrtype, code, RESOLVER_FAILURE_CODES.has(code));
    }
  }

  return {
    mx: (name) => ask(name, 'MX', () => resolver.resolveMx(name)),
    txt: async (name) =>
      (await ask(name, 'TXT', () => resolver.resolveTxt(name))).map((parts) => parts.join('')),
    async addresses(name) {
      const [v4, v6] = await Promise.allSettled([
        ask(name, 'A', () => resolver.resolve4(name)),
        ask(name, 'AAAA', () => resolver.resolve6(name)),
      ]);
      if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
      return [
        ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
        ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
      ];
    },
  };
}
