/**
 * People Data Labs' Company Enrichment over its bulk endpoint (or the emulator, which speaks the
 * same API): one domain in, one PdlResult out, in the same order.
 *
 * Like the Explorium client: one HTTP call per batch of at most 100, no retries here; callers
 * retry from ProviderError.kind. A call is billed one credit per item PDL answers 200, nothing for
 * a 404 item or a failed call (docs/providers/pdl-api.md), and `onCall` reports what each call
 * billed so the ledger counts what PDL counts.
 *
 * An answered call may carry items PDL could not answer now (429, 5xx) or could not bill (402:
 * credits ran out during the call). They come back as `retry` and `out_of_credits` results beside
 * the call's matches instead of failing the call: the matches were billed, and failing the call
 * would throw away records already paid for.
 */
import { bodySnippet, noAnswerError, parseJson, parseRetryAfterHeader } from '../call-failure';
import { type HttpPost, type HttpResponse, httpPost } from '../explorium/http-post';
import { type CallOptions, ProviderError } from '../provider';
import {
  headerCount,
  type PdlExtra,
  type PdlItemOutcome,
  type PdlMatch,
  type PdlRateLimit,
  parseBulkResponse,
  parseRateLimitHeaders,
} from './pdl-mapping';

export type { PdlExtra, PdlRateLimit };

/** PDL takes 1 to 100 requests per bulk call. */
export const PDL_MAX_BATCH_SIZE = 100;
export const PDL_BULK_PATH = '/v5/company/enrich/bulk';
/** Never tell a caller to retry a 429 at once, even when the reset time has just passed. */
const MIN_RATE_LIMIT_WAIT_MS = 1_000;

type ItemErrorDetail = { type: string; message: string };

export type PdlResult =
  | ({ domain: string } & PdlMatch)
  | { domain: string; status: 'not_found' }
  /** Credits ran out during the call before this item: the account's problem, not the company's. */
  | { domain: string; status: 'out_of_credits'; error: ItemErrorDetail }
  /** PDL answered this item 429 or 5xx: ask again later (`retryAfterMs` for a 429 item, from the call's headers, if any). */
  | {
      domain: string;
      status: 'retry';
      itemStatus: number;
      retryAfterMs: number | null;
      error: ItemErrorDetail;
    }
  /** A per-item failure inside an answered call (an ItemError): only this company fails. */
  | { domain: string; status: 'error'; error: ItemErrorDetail };

/**
 * The wait for items answered 429 inside an answered call: Retry-After when sent, the window's
 * reset only when the window is spent (with room left, waiting for the reset would idle the job
 * for up to a minute for nothing), else none: the retry policy's backoff decides.
 */
function itemRetryAfterMs(headers: Headers, now: number): number | null {
  const fromRetryAfter = parseRetryAfterHeader(headers.get('retry-after'), now);
  if (fromRetryAfter !== null) return fromRetryAfter;
  return parseRateLimitHeaders(headers, now)?.remaining === 0 ? retryAfterFromHeaders(headers, now) : null;
}

/** The wait a 429 call asks for: Retry-After, else the window's reset. */
function retryAfterFromHeaders(headers: Headers, now: number): number | null {
  const fromRetryAfter = parseRetryAfterHeader(headers.get('retry-after'), now);
  const resetAtMs = parseRateLimitHeaders(headers, now)?.resetAtMs ?? null;
  const fromReset = resetAtMs === null ? null : Math.max(MIN_RATE_LIMIT_WAIT_MS, resetAtMs - now);
  return fromRetryAfter ?? fromReset;
}

export type PdlCallInfo = {
  endpoint: 'bulk_enrich';
  /** Null when no answer arrived (network error, timeout, cancellation). */
  status: number | null;
  durationMs: number;
  /** Requests sent in the call (domains after removing duplicates). */
  items: number;
  /** Credits the call billed by PDL's rule: its items answered 200; 0 for a failed call; null when no answer came. */
  creditsBilled: number | null;
  /** What PDL said it billed (`x-call-credits-spent`); null when absent. */
  creditsReported: number | null;
  /** Credits left on the account (`x-totallimit-remaining`); null when absent. */
  creditsRemaining: number | null;
  /** The minute window from the `x-ratelimit-*` headers; null when none came. */
  rateLimit: PdlRateLimit | null;
};

export type PdlClientOptions = {
  /** e.g. `https://api.peopledatalabs.com`, or the emulator's URL; `/v5/...` is appended. */
  baseUrl: string;
  apiKey: string;
  /** Per call, including reading the body. */
  timeoutMs: number;
  /** PDL's `min_likelihood` (1 to 10): weaker matches come back 404, unbilled. Null = PDL's default. */
  minLikelihood: number | null;
  logger: { warn(obj: object, msg: string): void };
  /** Called once per HTTP call, answered or not. */
  onCall?: (info: PdlCallInfo) => void;
  /** Defaults to the proxy-aware POST the Explorium client uses. */
  fetchImpl?: HttpPost;
  /** `emulator` changes only the words of errors. Default `pdl`. */
  name?: 'pdl' | 'emulator';
};

export type PdlClient = {
  readonly name: 'pdl';
  readonly maxBatchSize: number;
  /**
   * Same length and order as `domains`. More than 100 distinct domains go in several calls, one
   * after another; a call failing fails the whole list (what earlier calls billed is still reported
   * through onCall), so a caller that retries should send at most `maxBatchSize` at a time.
   */
  enrichCompanies(domains: readonly string[], call?: CallOptions): Promise<PdlResult[]>;
};

export function createPdlClient(opts: PdlClientOptions): PdlClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const fetchImpl = opts.fetchImpl ?? httpPost;
  const emulator = opts.name === 'emulator';
  const label = emulator ? 'The PDL emulator' : 'People Data Labs';
  const keyHint = emulator ? 'the client and the emulator must use the same key' : 'check PDL_API_KEY';

  function errorForStatus(status: number, headers: Headers, body: unknown, rawText: string): ProviderError {
    const error =
      typeof body === 'object' && body !== null && 'error' in body
        ? (body as { error?: { type?: unknown; message?: unknown } }).error
        : undefined;
    const details =
      typeof error?.message === 'string'
        ? `${typeof error.type === 'string' ? `${error.type}: ` : ''}${error.message}`
        : bodySnippet(rawText);
    const common = { status, endpoint: 'bulk_enrich' };
    if (status === 401) {
      return new ProviderError('auth', `${label} rejected the API key (401): ${keyHint}`, common);
    }
    if (status === 403) {
      return new ProviderError(
        'auth',
        `${label} refused the key access to company enrichment (403): ${details}. Check the plan of the key`,
        common,
      );
    }
    if (status === 402) {
      return new ProviderError(
        'quota',
        `${label} refused the call (402), the account is out of credits: ${details}. Add credits, then resume the job`,
        common,
      );
    }
    if (status === 429) {
      const retryAfterMs = retryAfterFromHeaders(headers, Date.now());
      const wait =
        retryAfterMs === null ? 'no reset time given' : `retry in ${Math.ceil(retryAfterMs / 1000)} s`;
      return new ProviderError('rate_limited', `${label} rate limit reached (429): ${wait}`, {
        ...common,
        retryAfterMs,
      });
    }
    if (status >= 500) {
      return new ProviderError(
        'transient',
        `${label} failed with ${status}: ${details}. Temporary on their side; retry later`,
        common,
      );
    }
    if (status === 404 || status === 405) {
      return new ProviderError(
        'permanent',
        `${label} answered ${status} for ${baseUrl}${PDL_BULK_PATH} (${details}): check PDL_BASE_URL`,
        common,
      );
    }
    return new ProviderError(
      'permanent',
      `${label} rejected the bulk request (${status}): ${details}`,
      common,
    );
  }

  /** One bulk call for at most 100 distinct domains. */
  async function enrichBatch(
    domains: readonly string[],
    call: CallOptions | undefined,
  ): Promise<{ outcomes: PdlItemOutcome[]; retryAfterMs: number | null }> {
    // Whoever records calls learns of this one before it leaves (not timed: it may wait for them).
    await call?.beforeSend?.(domains);
    const signal = call?.signal;
    const startedAt = performance.now();
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let status: number | null = null;
    let headers: Headers | null = null;
    let creditsBilled: number | null = null;
    try {
      let response: HttpResponse;
      let rawText: string;
      const params = opts.minLikelihood === null ? {} : { min_likelihood: opts.minLikelihood };
      try {
        response = await fetchImpl(`${baseUrl}${PDL_BULK_PATH}`, {
          method: 'POST',
          headers: {
            'x-api-key': opts.apiKey,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({
            requests: domains.map((domain) => ({
              params: { website: domain, ...params },
              metadata: { domain },
            })),
          }),
          signal: combined,
          redirect: 'manual',
        });
        status = response.status;
        headers = response.headers;
        rawText = await response.text();
      } catch (err) {
        throw noAnswerError(err, {
          label,
          endpoint: 'bulk_enrich',
          baseUrl,
          checkHint: 'PDL_BASE_URL',
          timeoutMs: opts.timeoutMs,
          status,
          signal,
          timeout,
        });
      }
      // PDL bills nothing for a call that fails as a whole.
      creditsBilled = 0;
      const body = parseJson(rawText);
      if (status < 200 || status > 299) {
        throw errorForStatus(status, response.headers, body.ok ? body.value : null, rawText);
      }
      if (!body.ok) {
        throw new ProviderError(
          'transient',
          `${label} answered ${status} with a body that is not JSON (${bodySnippet(rawText)}); retry later`,
          { status, endpoint: 'bulk_enrich' },
        );
      }
      const parsed = parseBulkResponse(body.value, domains);
      if (!parsed.ok) {
        // Items may have been billed, but which ones is unknown: PDL's own count stands in.
        creditsBilled = headerCount(response.headers, 'x-call-credits-spent');
        throw new ProviderError(
          'permanent',
          `${label} answered in a shape this client does not understand: ${parsed.problem}`,
          { status, endpoint: 'bulk_enrich' },
        );
      }
      creditsBilled = parsed.value.filter((outcome) => outcome.status === 'matched').length;
      const unanswered = parsed.value.filter((o) => o.status === 'retry' || o.status === 'out_of_credits');
      if (unanswered.length === 0) return { outcomes: parsed.value, retryAfterMs: null };
      const outOfCredits = unanswered.filter((o) => o.status === 'out_of_credits').length;
      opts.logger.warn(
        {
          provider: 'pdl',
          endpoint: 'bulk_enrich',
          status,
          items: domains.length,
          billed: creditsBilled,
          out_of_credits: outOfCredits,
          retry: unanswered.length - outOfCredits,
        },
        outOfCredits > 0
          ? `${label} ran out of credits during a bulk call: ${outOfCredits} of its items were not enriched`
          : `${label} could not answer ${unanswered.length} items of a bulk call now; they will be asked again`,
      );
      return { outcomes: parsed.value, retryAfterMs: itemRetryAfterMs(response.headers, Date.now()) };
    } catch (err) {
      if (err instanceof ProviderError) {
        opts.logger.warn(
          {
            provider: 'pdl',
            endpoint: 'bulk_enrich',
            status: err.status,
            kind: err.kind,
            items: domains.length,
            retry_after_ms: err.retryAfterMs,
          },
          err.message,
        );
      }
      throw err;
    } finally {
      opts.onCall?.({
        endpoint: 'bulk_enrich',
        status,
        durationMs: performance.now() - startedAt,
        items: domains.length,
        creditsBilled,
        creditsReported: headers ? headerCount(headers, 'x-call-credits-spent') : null,
        creditsRemaining: headers ? headerCount(headers, 'x-totallimit-remaining') : null,
        rateLimit: headers ? parseRateLimitHeaders(headers, Date.now()) : null,
      });
    }
  }

  return {
    name: 'pdl',
    maxBatchSize: PDL_MAX_BATCH_SIZE,

    async enrichCompanies(domains, call) {
      // Sending a domain twice would cost a second credit for the same answer.
      const unique = [...new Set(domains)];
      const byDomain = new Map<string, PdlResult>();
      for (let start = 0; start < unique.length; start += PDL_MAX_BATCH_SIZE) {
        const batch = unique.slice(start, start + PDL_MAX_BATCH_SIZE);
        const { outcomes, retryAfterMs } = await enrichBatch(batch, call);
        for (const [index, domain] of batch.entries()) {
          const outcome = outcomes[index];
          if (!outcome) continue;
          if (outcome.status !== 'retry') byDomain.set(domain, { domain, ...outcome });
          else {
            // A 5xx item asks for no wait; only a 429 speaks of the rate limit.
            const wait = outcome.itemStatus === 429 ? retryAfterMs : null;
            byDomain.set(domain, { domain, ...outcome, retryAfterMs: wait });
          }
        }
      }
      return domains.map((domain) => byDomain.get(domain)!);
    },
  };
}
