/**
 * EnrichmentProvider over Explorium's HTTP API (or the sandbox, which speaks the same API).
 *
 * One call per batch, no retries here: callers retry from ProviderError.kind, which keeps
 * backoff, attempt counts and rate-limit pacing in one place (the queue).
 */
import { bodySnippet, noAnswerError, parseJson, parseRetryAfterHeader } from '../call-failure';
import type { CallOptions, EnrichmentProvider, MatchResult } from '../provider';
import { FIRMOGRAPHIC_FIELDS, ProviderError } from '../provider';
import {
  type Parsed,
  parseBulkEnrichResponse,
  parseMatchResponse,
  readCorrelationId,
  readErrorDetails,
  readRetryAfterSeconds,
} from './explorium-mapping';
import { type HttpPost, type HttpResponse, httpPost } from './http-post';

export { parseRetryAfterHeader };

/** Explorium takes at most 50 items per match call and per bulk-enrich call. */
export const MAX_BATCH_SIZE = 50;
export const DEFAULT_TIMEOUT_MS = 30_000;

export type ExploriumEndpoint = 'match' | 'bulk_enrich';

export type ExploriumRateLimit = { limit: number; remaining: number; resetAtMs: number };

export type ExploriumCallInfo = {
  endpoint: ExploriumEndpoint;
  /** Null when no response arrived (network error, timeout, cancellation). */
  status: number | null;
  durationMs: number;
  /** Items sent in the call (after removing duplicates). */
  items: number;
  /** From the X-RateLimit-* headers; null when a header is missing or unreadable. */
  rateLimit: ExploriumRateLimit | null;
  correlationId: string | null;
};

export type ExploriumClientOptions = {
  /** e.g. `https://api.explorium.ai`, or the sandbox's URL; paths under `/v1` are appended. */
  baseUrl: string;
  apiKey: string;
  /** `sandbox` labels results as synthetic for users. */
  name: 'explorium' | 'sandbox';
  /** Per call, including reading the body. */
  timeoutMs: number;
  logger: { warn(obj: object, msg: string): void };
  /** Called once per HTTP call, successful or not, e.g. for metrics and pacing by rate-limit headers. */
  onCall?: (info: ExploriumCallInfo) => void;
  /** Defaults to a POST over node:http(s) (see http-post.ts); the global fetch fits too. */
  fetchImpl?: HttpPost;
};

export type ExploriumClient = EnrichmentProvider;

const PATHS: Readonly<Record<ExploriumEndpoint, string>> = {
  match: '/v1/businesses/match',
  bulk_enrich: '/v1/businesses/firmographics/bulk_enrich',
};

/** Anything below this cannot be a unix time in seconds, so it is read as "seconds from now". */
const MIN_UNIX_SECONDS = 1_000_000_000;

function assertBatch(kind: string, count: number): void {
  if (count === 0 || count > MAX_BATCH_SIZE) {
    throw new Error(`Explorium client: ${kind} takes 1 to ${MAX_BATCH_SIZE} items per call, got ${count}`);
  }
}

function headerNumber(headers: Headers, name: string): number | null {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return null;
  const value = Number(raw);
  return Number.isFinite(value) ? value : null;
}

export function parseRateLimitHeaders(headers: Headers, nowMs: number): ExploriumRateLimit | null {
  const limit = headerNumber(headers, 'x-ratelimit-limit');
  const remaining = headerNumber(headers, 'x-ratelimit-remaining');
  const reset = headerNumber(headers, 'x-ratelimit-reset');
  if (limit === null || remaining === null || reset === null) return null;
  const resetAtMs = reset >= MIN_UNIX_SECONDS ? reset * 1000 : nowMs + reset * 1000;
  return { limit, remaining, resetAtMs };
}

export function createExploriumClient(opts: ExploriumClientOptions): ExploriumClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const fetchImpl = opts.fetchImpl ?? httpPost;
  const label = opts.name === 'sandbox' ? 'The Explorium sandbox' : 'Explorium';
  const keyHint =
    opts.name === 'sandbox'
      ? 'the client and the sandbox must be configured with the same API key'
      : 'check EXPLORIUM_API_KEY';

  function errorForStatus(
    endpoint: ExploriumEndpoint,
    status: number,
    headers: Headers,
    body: { ok: true; value: unknown } | { ok: false },
    rawText: string,
    correlationId: string | null,
  ): ProviderError {
    const details = (body.ok ? readErrorDetails(body.value) : null) ?? bodySnippet(rawText);
    const common = { status, correlationId, endpoint };
    if (status === 401) {
      return new ProviderError('auth', `${label} rejected the API key (401): ${keyHint}`, common);
    }
    if (status === 403) {
      return new ProviderError(
        'quota',
        `${label} refused the call (403), the account is out of credits: ${details}. Add credits or wait for them to renew, then resume the job`,
        common,
      );
    }
    if (status === 429) {
      const now = Date.now();
      const fromHeader = parseRetryAfterHeader(headers.get('retry-after'), now);
      const fromBody = body.ok ? readRetryAfterSeconds(body.value) : null;
      const retryAfterMs = fromHeader ?? (fromBody === null ? null : Math.round(fromBody * 1000));
      const wait =
        retryAfterMs === null ? 'no retry time given' : `retry in ${Math.ceil(retryAfterMs / 1000)} s`;
      return new ProviderError('rate_limited', `${label} rate limit reached on ${endpoint} (429): ${wait}`, {
        ...common,
        retryAfterMs,
      });
    }
    if (status >= 500) {
      return new ProviderError(
        'transient',
        `${label} failed on ${endpoint} with ${status}: ${details}. Temporary on their side; retry later`,
        common,
      );
    }
    if (status === 422) {
      return new ProviderError(
        'permanent',
        `${label} rejected the ${endpoint} request as malformed (422): ${details}. This is a bug in the client, not in your data`,
        common,
      );
    }
    if (status === 400) {
      return new ProviderError(
        'permanent',
        `${label} rejected the ${endpoint} request (400): ${details}`,
        common,
      );
    }
    if (status === 404 || status === 405) {
      return new ProviderError(
        'permanent',
        // A 404 is also how an unknown business id may come back, so show the body's words too.
        `${label} answered ${status} for ${baseUrl}${PATHS[endpoint]} (${details}): if every call fails this way, check the provider base URL`,
        common,
      );
    }
    return new ProviderError(
      'permanent',
      `${label} answered ${endpoint} with unexpected status ${status}: ${details}`,
      common,
    );
  }

  /**
   * Sends one call and turns it into a value or a ProviderError. Reports every call through
   * onCall and logs every failed one exactly once; a cancellation by the caller is neither a
   * provider failure nor logged, and rethrows the caller's reason.
   */
  async function execute<T>(
    endpoint: ExploriumEndpoint,
    payload: object,
    keys: readonly string[],
    call: CallOptions | undefined,
    parse: (body: unknown) => Parsed<T>,
  ): Promise<T> {
    // Whoever records calls learns of this one before it leaves (not timed: it may wait for them).
    await call?.beforeSend?.(keys);
    const items = keys.length;
    const signal = call?.signal;
    const startedAt = performance.now();
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let status: number | null = null;
    let rateLimit: ExploriumRateLimit | null = null;
    let correlationId: string | null = null;
    try {
      let response: HttpResponse;
      let rawText: string;
      try {
        response = await fetchImpl(`${baseUrl}${PATHS[endpoint]}`, {
          method: 'POST',
          headers: { api_key: opts.apiKey, 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(payload),
          signal: combined,
          // A followed redirect could turn the POST into a GET; an unexpected 3xx is a config error.
          redirect: 'manual',
        });
        status = response.status;
        rateLimit = parseRateLimitHeaders(response.headers, Date.now());
        rawText = await response.text();
      } catch (err) {
        throw noAnswerError(err, {
          label,
          endpoint,
          baseUrl,
          checkHint: 'the provider base URL',
          timeoutMs: opts.timeoutMs,
          status,
          signal,
          timeout,
        });
      }
      const body = parseJson(rawText);
      correlationId = body.ok ? readCorrelationId(body.value) : null;
      if (status < 200 || status > 299) {
        throw errorForStatus(endpoint, status, response.headers, body, rawText, correlationId);
      }
      if (!body.ok) {
        throw new ProviderError(
          'transient',
          `${label} answered ${endpoint} with ${status} but a body that is not JSON (${bodySnippet(rawText)}); retry later`,
          { status, endpoint },
        );
      }
      const parsed = parse(body.value);
      if (!parsed.ok) {
        throw new ProviderError(
          'permanent',
          `${label} answered ${endpoint} in a shape this client does not understand: ${parsed.problem}`,
          { status, endpoint, correlationId },
        );
      }
      return parsed.value;
    } catch (err) {
      if (err instanceof ProviderError) {
        opts.logger.warn(
          {
            provider: opts.name,
            endpoint,
            status: err.status,
            correlation_id: err.correlationId,
            kind: err.kind,
            items,
            retry_after_ms: err.retryAfterMs,
          },
          err.message,
        );
      }
      throw err;
    } finally {
      opts.onCall?.({
        endpoint,
        status,
        durationMs: performance.now() - startedAt,
        items,
        rateLimit,
        correlationId,
      });
    }
  }

  return {
    name: opts.name,
    maxBatchSize: MAX_BATCH_SIZE,
    matching: 'call',
    // One credit a record returned with data; matching is not billed as a record.
    creditsPerRecord: 1,
    fills: FIRMOGRAPHIC_FIELDS,

    async matchBusinesses(domains, call) {
      assertBatch('matchBusinesses', domains.length);
      // Sending a domain twice would only cost a second lookup; answer both from one.
      const unique = [...new Set(domains)];
      const results = await execute(
        'match',
        { request_context: null, businesses_to_match: unique.map((domain) => ({ domain })) },
        unique,
        call,
        (body) => parseMatchResponse(body, unique),
      );
      const byDomain = new Map<string, MatchResult>(unique.map((domain, index) => [domain, results[index]!]));
      return domains.map((domain) => byDomain.get(domain)!);
    },

    async enrichFirmographics(businessIds, call) {
      assertBatch('enrichFirmographics', businessIds.length);
      const unique = [...new Set(businessIds)];
      return execute('bulk_enrich', { business_ids: unique }, unique, call, (body) =>
        parseBulkEnrichResponse(body, unique),
      );
    },
  };
}
