/**
 * Which providers this installation can ask (ENRICHMENT_PROVIDERS, and the keys it has), and the
 * stack every call to each goes through, built in one place, innermost first:
 *
 *   client → claim guard → rate limit → circuit breaker
 *
 * The claim guard is innermost so that it decides after any rate-limit wait, right before the
 * call leaves (a company taken over meanwhile costs nothing). The ledger is not here: it is kept
 * per call by the batcher, which knows the companies and the job a call is for
 * (enrichment/provider-call-ledger.ts).
 */
import { createHash } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import { type Config, ConfigError } from '../config';
import { createClaimGuardedProvider } from '../enrichment/claim-guarded-provider';
import type { HeldClaims } from '../enrichment/held-claims';
import { observeProviderCalls, observeRateLimiter } from '../observability/instrument-provider';
import type { Metrics, ProviderCallInfo } from '../observability/metrics';
import { type CircuitBreakingProvider, createCircuitBreakingProvider } from './circuit-breaker';
import { createExploriumClient } from './explorium/explorium-client';
import { createProviderHttpPost, type HttpPost } from './explorium/http-post';
import { createPdlClient } from './pdl/pdl-client';
import { createPdlProvider } from './pdl/pdl-provider';
import type { EnrichmentProvider, ProviderName } from './provider';
import { exhaustedWindowPauseMs } from './rate-limit/exhausted-window';
import { createRateLimitedProvider } from './rate-limit/rate-limited-provider';
import {
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitUnit,
  UNLIMITED,
} from './rate-limit/rate-limiter';
import { startSandboxServer } from './sandbox/sandbox-server';
import { createWebProvider } from './web/web-provider';

export type ProviderEndpoint = {
  name: ProviderName;
  /** Where its API is; empty for the web provider, which visits each company's own site. */
  baseUrl: string;
  apiKey: string;
  stop(): Promise<void>;
};

/** A call's report with the window readings pacing can use (both figures known), else none. */
type PacedCallInfo = ProviderCallInfo & { rateLimit: { remaining: number; resetAtMs: number } | null };

export type ProviderRateLimit = { perMinute: number; unit: RateLimitUnit; limit: number };

export type ProviderStack = {
  /** What enrichment calls: every layer above applied. */
  provider: CircuitBreakingProvider;
  /** The shared pace of this provider's key (UNLIMITED when it has no limit). */
  limiter: RateLimiter;
  rateLimit: ProviderRateLimit | null;
  /** Closes what the client keeps open (the web provider's connections). */
  close(): Promise<void>;
};

// Pace a little under the provider's limit: a call sent late by the event loop must not let the
// next window's calls land in this one (a sliding window counts arrivals, not reservations).
const RATE_LIMIT_HEADROOM = 0.98;
// Transient provider failures in a row that pause this process's calls, and for how long.
const CIRCUIT_FAILURE_THRESHOLD = 5;
const CIRCUIT_COOLDOWN_MS = 30_000;
const SANDBOX_API_KEY_DEFAULT = 'sandbox';
// The web provider's name in its User-Agent, and the group of robots.txt it obeys.
const WEB_USER_AGENT_TOKEN = 'GTM-Enrich';

// A name every resolver on the public internet answers: if it does not resolve, neither will
// the companies' domains, and the web provider would find nothing.
const PUBLIC_NAME_PROBE = 'example.com';
const PUBLIC_NAME_PROBE_TIMEOUT_MS = 2_000;

/** Whether this machine can resolve public names (through DNS_SERVERS when set), within 2 s. */
export async function resolvesPublicNames(config: Pick<Config, 'DNS_SERVERS'>): Promise<boolean> {
  const resolver = new Resolver({ timeout: PUBLIC_NAME_PROBE_TIMEOUT_MS, tries: 1 });
  if (config.DNS_SERVERS.length > 0) resolver.setServers(config.DNS_SERVERS);
  const timer = setTimeout(() => resolver.cancel(), PUBLIC_NAME_PROBE_TIMEOUT_MS);
  try {
    return (await resolver.resolve4(PUBLIC_NAME_PROBE)).length > 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The providers an installation can ask, and the waterfall a job gets when its upload names none. */
export type ProviderSet = {
  /** Each provider it can ask (one endpoint per name). */
  available: ProviderEndpoint[];
  /** ENRICHMENT_PROVIDERS: the default waterfall, in order. */
  waterfall: ProviderName[];
  /** Stops what was started for them (the in-process sandbox). */
  stop(): Promise<void>;
};

/**
 * What an installation can ask, and its default waterfall (ENRICHMENT_PROVIDERS). With `auto`:
 * Explorium with EXPLORIUM_API_KEY, People Data Labs with PDL_API_KEY, then the keyless web
 * provider when this machine resolves public names (paid fields first, free signals added);
 * without any of them, the sandbox on loopback (synthetic data, said loudly), so that the real
 * client code path always runs. A provider with a key is available to uploads that name it even
 * when the default waterfall leaves it out.
 */
export async function resolveProviders(
  config: Config,
  logger: Logger,
  probe: (config: Config) => Promise<boolean> = resolvesPublicNames,
): Promise<ProviderSet> {
  const none = { apiKey: '', stop: async () => {} };
  const keyed: ProviderEndpoint[] = [];
  if (config.EXPLORIUM_API_KEY) {
    keyed.push({
      ...none,
      name: 'explorium',
      baseUrl: config.EXPLORIUM_BASE_URL,
      apiKey: config.EXPLORIUM_API_KEY,
    });
  }
  if (config.PDL_API_KEY) {
    keyed.push({ ...none, name: 'pdl', baseUrl: config.PDL_BASE_URL, apiKey: config.PDL_API_KEY });
  }
  const web: ProviderEndpoint = { ...none, name: 'web', baseUrl: '' };
  const chosen = config.ENRICHMENT_PROVIDERS;

  if (chosen !== 'auto') {
    const missing = chosen.filter(
      (name) => (name === 'explorium' || name === 'pdl') && !keyed.some((e) => e.name === name),
    );
    if (missing.length > 0) {
      throw new ConfigError(
        missing.map(
          (name) =>
            `ENRICHMENT_PROVIDERS names ${name}, which needs ${name === 'pdl' ? 'PDL_API_KEY' : 'EXPLORIUM_API_KEY'}.`,
        ),
      );
    }
    const available = [...keyed];
    if (chosen.includes('web')) available.push(web);
    if (chosen.includes('sandbox')) {
      logger.warn('ENRICHMENT_PROVIDERS names sandbox: it answers with SYNTHETIC data.');
      const sandbox = await sandboxEndpoint(config);
      available.push(sandbox);
      return { available, waterfall: [...chosen], stop: sandbox.stop };
    }
    return { available, waterfall: [...chosen], stop: async () => {} };
  }

  const resolves = await probe(config);
  if (resolves) {
    const available = [...keyed, web];
    if (keyed.length === 0) {
      logger.info(
        'No provider key is set: companies are enriched by the keyless WEB provider (DNS records and each ' +
          "company's homepage). Set EXPLORIUM_API_KEY or PDL_API_KEY for paid firmographics.",
      );
    }
    return { available, waterfall: available.map((e) => e.name), stop: async () => {} };
  }
  if (keyed.length > 0) {
    logger.warn(
      `This machine cannot resolve public names (${PUBLIC_NAME_PROBE} did not resolve within ` +
        `${PUBLIC_NAME_PROBE_TIMEOUT_MS / 1000} s): the keyless web provider is left out of the waterfall.`,
    );
    return { available: keyed, waterfall: keyed.map((e) => e.name), stop: async () => {} };
  }
  logger.warn(
    `No provider key is set and this machine cannot resolve public names (${PUBLIC_NAME_PROBE} did not ` +
      `resolve within ${PUBLIC_NAME_PROBE_TIMEOUT_MS / 1000} s${config.DNS_SERVERS.length > 0 ? ' through DNS_SERVERS' : ''}), ` +
      'so the keyless web provider would find nothing: companies are enriched by the built-in SANDBOX with ' +
      'SYNTHETIC data. Set EXPLORIUM_API_KEY or PDL_API_KEY, or give the machine DNS (DNS_SERVERS).',
  );
  const sandbox = await sandboxEndpoint(config);
  return { available: [sandbox], waterfall: ['sandbox'], stop: sandbox.stop };
}

/** The sandbox at SANDBOX_URL, or one started in this process on loopback. */
async function sandboxEndpoint(config: Config): Promise<ProviderEndpoint> {
  const apiKey = config.SANDBOX_API_KEY ?? SANDBOX_API_KEY_DEFAULT;
  if (config.SANDBOX_URL)
    return { name: 'sandbox', baseUrl: config.SANDBOX_URL, apiKey, stop: async () => {} };
  const sandbox = await startSandboxServer({
    latencyMs: config.SANDBOX_LATENCY_MS,
    errorRate: config.SANDBOX_ERROR_RATE,
    rateLimitPerMin: config.SANDBOX_RATE_LIMIT_PER_MIN,
    rateLimitUnit: config.SANDBOX_RATE_LIMIT_UNIT,
    rateLimitReset: config.SANDBOX_RATE_LIMIT_RESET,
    omitEmptyLists: config.SANDBOX_OMIT_EMPTY_LISTS,
    apiKey: config.SANDBOX_API_KEY,
  });
  return { name: 'sandbox', baseUrl: sandbox.url, apiKey, stop: () => sandbox.close() };
}

/**
 * Explorium's limit is a setting (per key, in requests or records); People Data Labs' is a
 * number of calls a minute. The web provider has none (it is bounded per host instead). The
 * sandbox counts requests and is unlimited unless SANDBOX_RATE_LIMIT_PER_MIN says otherwise, so
 * demos run at full speed.
 */
export function providerRateLimit(config: Config, endpoint: ProviderEndpoint): ProviderRateLimit | null {
  if (endpoint.name === 'web') return null;
  if (endpoint.name === 'pdl') {
    return {
      perMinute: config.PDL_RATE_LIMIT_PER_MIN * RATE_LIMIT_HEADROOM,
      unit: 'request',
      limit: config.PDL_RATE_LIMIT_PER_MIN,
    };
  }
  if (endpoint.name === 'explorium') {
    return {
      perMinute: config.EXPLORIUM_RATE_LIMIT * RATE_LIMIT_HEADROOM,
      unit: config.EXPLORIUM_RATE_LIMIT_UNIT,
      limit: config.EXPLORIUM_RATE_LIMIT,
    };
  }
  return config.SANDBOX_RATE_LIMIT_PER_MIN > 0
    ? {
        perMinute: config.SANDBOX_RATE_LIMIT_PER_MIN * RATE_LIMIT_HEADROOM,
        unit: config.SANDBOX_RATE_LIMIT_UNIT,
        limit: config.SANDBOX_RATE_LIMIT_PER_MIN,
      }
    : null;
}

export function createProviderStack(opts: {
  config: Config;
  logger: Logger;
  endpoint: ProviderEndpoint;
  held: HeldClaims;
  /** The mode's limiter (infrastructure.ts): shared through Redis, or this process's own. */
  rateLimiter(key: string, limits: RateLimiterOptions): RateLimiter;
  metrics: Metrics;
}): ProviderStack {
  const { config, logger, endpoint } = opts;
  const rateLimit = providerRateLimit(config, endpoint);
  // The limit is per key: every process using this key, on any machine, spends from one budget.
  const keyHash = createHash('sha256').update(endpoint.apiKey).digest('hex').slice(0, 16);
  const limiter = rateLimit
    ? opts.rateLimiter(`${config.QUEUE_PREFIX}:rate-limit:${endpoint.name}:${keyHash}`, {
        perMinute: rateLimit.perMinute,
        windowLimit: rateLimit.limit,
      })
    : UNLIMITED;
  const observeCall = observeProviderCalls(endpoint.name, opts.metrics);
  const onCall = (info: PacedCallInfo) => {
    observeCall(info);
    // The provider says its window is full: everyone waits one pacing interval, or until the
    // reset when sooner (see exhausted-window.ts for why never a whole reset).
    const pauseMs = exhaustedWindowPauseMs(info, rateLimit, Date.now());
    if (pauseMs > 0) {
      limiter
        .pauseFor(pauseMs)
        .catch((err: unknown) => logger.warn({ err }, 'could not pause the shared rate limiter'));
    }
  };
  // Paid providers through the egress proxy when one is set; the sandbox directly.
  const fetchImpl = createProviderHttpPost({
    viaProxy: endpoint.name !== 'sandbox',
    httpProxy: config.HTTP_PROXY,
    httpsProxy: config.HTTPS_PROXY,
    noProxy: config.NO_PROXY,
  });
  const client = providerClient(opts, fetchImpl, onCall);
  const guarded = createClaimGuardedProvider(client, opts.held);
  const limited = rateLimit
    ? createRateLimitedProvider(guarded, {
        limiter: observeRateLimiter(limiter, endpoint.name, opts.metrics),
        unit: rateLimit.unit,
        limit: rateLimit.limit,
      })
    : guarded;
  // One breaker per process: an outage seen by this worker stops its calls until a probe succeeds.
  const provider = createCircuitBreakingProvider(limited, {
    failureThreshold: CIRCUIT_FAILURE_THRESHOLD,
    cooldownMs: CIRCUIT_COOLDOWN_MS,
    onStateChange: (state, { failures }) =>
      state === 'open'
        ? logger.error({ failures }, 'provider failing call after call: calls paused (circuit open)')
        : logger.info('provider answering again: calls resumed (circuit closed)'),
  });
  return { provider, limiter, rateLimit, close: async () => client.close?.() };
}

/** The client of the chosen provider, behind the one port (provider.ts). */
function providerClient(
  opts: { config: Config; logger: Logger; endpoint: ProviderEndpoint },
  fetchImpl: HttpPost,
  onCall: (info: PacedCallInfo) => void,
): EnrichmentProvider & { close?(): Promise<void> } {
  const { config, logger, endpoint } = opts;
  switch (endpoint.name) {
    case 'pdl':
      return createPdlProvider(
        createPdlClient({
          baseUrl: endpoint.baseUrl,
          apiKey: endpoint.apiKey,
          timeoutMs: config.PROVIDER_TIMEOUT_MS,
          minLikelihood: config.PDL_MIN_LIKELIHOOD,
          logger,
          fetchImpl,
          // PDL's window readings may lack a figure; only a full one can pause the limiter.
          onCall: (info) =>
            onCall({
              ...info,
              rateLimit:
                info.rateLimit?.remaining != null && info.rateLimit.resetAtMs != null
                  ? { remaining: info.rateLimit.remaining, resetAtMs: info.rateLimit.resetAtMs }
                  : null,
            }),
        }),
      );
    case 'web':
      // Free and keyless: no rate limit of a provider to keep, only politeness per host.
      return createWebProvider({
        dnsServers: config.DNS_SERVERS,
        dnsTimeoutMs: config.DNS_TIMEOUT_MS,
        fetchTimeoutMs: config.WEB_FETCH_TIMEOUT_MS,
        maxPageBytes: config.WEB_MAX_PAGE_BYTES,
        hostConcurrency: config.WEB_HOST_CONCURRENCY,
        concurrency: config.WEB_CONCURRENCY,
        allowedCidrs: config.OUTBOUND_ALLOWED_CIDRS,
        userAgentToken: WEB_USER_AGENT_TOKEN,
        contactUrl: config.WEB_CONTACT_URL,
      });
    default:
      return createExploriumClient({
        baseUrl: endpoint.baseUrl,
        apiKey: endpoint.apiKey,
        name: endpoint.name,
        timeoutMs: config.PROVIDER_TIMEOUT_MS,
        logger,
        fetchImpl,
        onCall,
      });
  }
}
