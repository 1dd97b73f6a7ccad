/**
 * Which provider this installation calls, and the stack every call goes through, built in one
 * place, innermost first:
 *
 *   client → claim guard → rate limit → circuit breaker
 *
 * The claim guard is innermost so that it decides after any rate-limit wait, right before the
 * call leaves (a company taken over meanwhile costs nothing). The ledger is not here: it is kept
 * per call by the batcher, which knows the companies and the job a call is for
 * (enrichment/provider-call-ledger.ts).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createClaimGuardedProvider } from '../enrichment/claim-guarded-provider';
import type { HeldClaims } from '../enrichment/held-claims';
import { observeProviderCalls, observeRateLimiter } from '../observability/instrument-provider';
import type { Metrics } from '../observability/metrics';
import { type CircuitBreakingProvider, createCircuitBreakingProvider } from './circuit-breaker';
import { createExploriumClient } from './explorium/explorium-client';
import { createProviderHttpPost } from './explorium/http-post';
import { exhaustedWindowPauseMs } from './rate-limit/exhausted-window';
import { createRateLimitedProvider } from './rate-limit/rate-limited-provider';
import {
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitUnit,
  UNLIMITED,
} from './rate-limit/rate-limiter';
import { startSandboxServer } from './sandbox/sandbox-server';

export type ProviderEndpoint = {
  name: 'explorium' | 'sandbox';
  baseUrl: string;
  apiKey: string;
  stop(): Promise<void>;
};

export type ProviderRateLimit = { perMinute: number; unit: RateLimitUnit; limit: number };

export type ProviderStack = {
  /** What enrichment calls: every layer above applied. */
  provider: CircuitBreakingProvider;
  /** The shared pace of this provider's key (UNLIMITED when it has no limit). */
  limiter: RateLimiter;
  rateLimit: ProviderRateLimit | null;
};

// Pace a little under the provider's limit: a call sent late by the event loop must not let the
// next window's calls land in this one (a sliding window counts arrivals, not reservations).
const RATE_LIMIT_HEADROOM = 0.98;
// Transient provider failures in a row that pause this process's calls, and for how long.
const CIRCUIT_FAILURE_THRESHOLD = 5;
const CIRCUIT_COOLDOWN_MS = 30_000;
const SANDBOX_API_KEY_DEFAULT = 'sandbox';

/**
 * With EXPLORIUM_API_KEY: Explorium. Without: the sandbox, at SANDBOX_URL or started here on
 * loopback, so that the real client code path always runs.
 */
export async function resolveProvider(config: Config, logger: Logger): Promise<ProviderEndpoint> {
  if (config.EXPLORIUM_API_KEY) {
    return {
      name: 'explorium',
      baseUrl: config.EXPLORIUM_BASE_URL,
      apiKey: config.EXPLORIUM_API_KEY,
      stop: async () => {},
    };
  }
  const apiKey = config.SANDBOX_API_KEY ?? SANDBOX_API_KEY_DEFAULT;
  logger.warn(
    'EXPLORIUM_API_KEY is not set: companies are enriched by the built-in SANDBOX with SYNTHETIC data. ' +
      'Set EXPLORIUM_API_KEY for real firmographics.',
  );
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
 * Explorium's limit is a setting (per key, in requests or records). The sandbox counts requests
 * and is unlimited unless SANDBOX_RATE_LIMIT_PER_MIN says otherwise, so demos run at full speed.
 */
export function providerRateLimit(config: Config, endpoint: ProviderEndpoint): ProviderRateLimit | null {
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
  const client = createExploriumClient({
    baseUrl: endpoint.baseUrl,
    apiKey: endpoint.apiKey,
    name: endpoint.name,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    logger,
    // Explorium through the egress proxy when one is set; the sandbox directly.
    fetchImpl: createProviderHttpPost({
      viaProxy: endpoint.name === 'explorium',
      httpProxy: config.HTTP_PROXY,
      httpsProxy: config.HTTPS_PROXY,
      noProxy: config.NO_PROXY,
    }),
    onCall: (info) => {
      observeCall(info);
      // The provider says its window is full: everyone waits one pacing interval, or until the
      // reset when sooner (see exhausted-window.ts for why never a whole reset).
      const pauseMs = exhaustedWindowPauseMs(info, rateLimit, Date.now());
      if (pauseMs > 0) {
        limiter
          .pauseFor(pauseMs)
          .catch((err: unknown) => logger.warn({ err }, 'could not pause the shared rate limiter'));
      }
    },
  });
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
  return { provider, limiter, rateLimit };
}
