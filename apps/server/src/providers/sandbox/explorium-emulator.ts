/**
 * An Explorium-compatible emulator serving SYNTHETIC data (see sandbox-data.ts), as a Fastify
 * plugin mounted by the sandbox server (sandbox-server.ts).
 *
 * It follows docs/providers/explorium-api.md: the same routes, request validation (400 for
 * non-JSON, 422 with `{ detail: [{ loc, msg, type }] }` for the rest), error bodies, rate-limit
 * headers and 50-item batches. Faults can be switched on: latency, a share of 5xx answers, a
 * per-key rate limit and a credit limit. Where Explorium's pages read two ways, each reading is an
 * option: what the limit counts (requests or records), what `X-RateLimit-Reset` says (the oldest
 * counted call + 60 s, or now + 60 s), and whether an empty list is sent or left out.
 *
 * Control routes (no api key needed, not counted): `GET /_sandbox/stats`, `POST /_sandbox/reset`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { validateFaultOptions } from './emulator-http';
import {
  itemsIn,
  type MatchItem,
  ValidationError,
  validateBulkEnrich,
  validateEnrich,
  validateMatch,
} from './explorium-requests';
import { createSandboxDirectory, type SandboxBusiness, singleEnrichShape } from './sandbox-data';

export type SandboxEndpoint = 'match' | 'enrich' | 'bulk_enrich';
export type SandboxRateLimitUnit = 'request' | 'record';
export type SandboxRateLimitReset = 'oldest' | 'window';

export type SandboxStats = {
  /** Requests received per endpoint, whatever the outcome (401, 429, 5xx and 422 included). */
  calls: Record<SandboxEndpoint, number>;
  /** Items (domains or business ids) in requests answered 200. */
  items: Record<SandboxEndpoint, number>;
  /** Responses per HTTP status code, over the API endpoints. */
  responses: Record<string, number>;
  /** Domain as sent (trimmed, lowercased) → how many answered match calls included it. */
  domainsMatched: Record<string, number>;
  /** Business id → how many answered enrich or bulk_enrich calls included it. */
  businessIdsEnriched: Record<string, number>;
  /** Records billed against `creditLimit` (rows returned with data). */
  creditsUsed: number;
  /** What the rate limit counted (calls it admitted, in its unit), over every key. */
  counted: CountedUnits;
};

export type CountedUnits = {
  /** Units admitted: calls (request) or their items (record). */
  units: number;
  /** When the first and the last admitted call arrived (ms since the epoch); null before any. */
  firstAt: number | null;
  lastAt: number | null;
  /** Units of the last admitted call: spent at `lastAt`, so a rate over firstAt..lastAt leaves them out. */
  lastUnits: number;
  /** Most units one key's 60 s window held after admitting a call: at most the limit. */
  peakWindowUnits: number;
};

export type ExploriumEmulatorOptions = {
  /** Added before every API response, in ms. Default 0. */
  latencyMs?: number;
  /** Share of API calls (0..1) answered 500 or 503 with Explorium's error body. Default 0. */
  errorRate?: number;
  /** Requests (or records, see `rateLimitUnit`) per sliding 60 s window per API key; 0 turns limiting off. Default 0. */
  rateLimitPerMin?: number;
  /**
   * What the limit counts: each call once (`request`, the default) or each item of a call
   * (`record`, as Explorium's current rate-limit page reads). Counted in records, a call of more
   * items than the limit is never admitted.
   */
  rateLimitUnit?: SandboxRateLimitUnit;
  /**
   * What `X-RateLimit-Reset` says: when the oldest counted call leaves the window (`oldest`, the
   * default), or the end of a full window from now (`window`). Both are readings of "when the
   * window resets" for a sliding window.
   */
  rateLimitReset?: SandboxRateLimitReset;
  /**
   * Leave `matched_businesses` out of a match answer that matched nothing, and `data` out of a
   * bulk_enrich answer without rows: the published schema makes both optional. Default false.
   */
  omitEmptyLists?: boolean;
  /** When set, any other key gets 401. A missing `api_key` header always gets 401. */
  apiKey?: string;
  /** Billed records (rows returned with data) allowed before calls get 403. Default: unlimited. */
  creditLimit?: number;
  /** Source of randomness for fault injection, injectable for deterministic tests. Default Math.random. */
  random?: () => number;
};

const EXPLORIUM_ROUTES: Readonly<Record<string, SandboxEndpoint>> = {
  '/v1/businesses/match': 'match',
  '/v1/businesses/firmographics/enrich': 'enrich',
  '/v1/businesses/firmographics/bulk_enrich': 'bulk_enrich',
};

const RATE_WINDOW_MS = 60_000;
/** Reported when no limit is configured, so clients pacing by the headers never slow down. */
const UNLIMITED_RATE_LIMIT_PER_MIN = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;

type Reply = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

type ParsedBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'too_large' }
  | { kind: 'invalid'; reason: string };

/** As bytes, so Fastify leaves the content type as set (it would add a charset to a string's). */
function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function parseJson(text: string): ParsedBody {
  try {
    return { kind: 'json', value: JSON.parse(text) };
  } catch (err) {
    return { kind: 'invalid', reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Any body, whatever its declared type, read as JSON text: Explorium's answers to a body too large
 * or not JSON come after the key check and the rate limit, so reading never fails the request.
 */
async function readBody(payload: Readable): Promise<ParsedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return { kind: 'too_large' };
    chunks.push(buffer);
  }
  return parseJson(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Seconds until enough of the window's oldest calls leave it for `units` more to fit; a whole
 * window when they never can (more records in one call than the limit).
 */
function retryAfterSeconds(
  window: readonly { at: number; units: number }[],
  used: number,
  units: number,
  limit: number,
  now: number,
): number {
  let left = used;
  for (const call of window) {
    left -= call.units;
    if (left + units <= limit) return Math.max(1, Math.ceil((call.at + RATE_WINDOW_MS - now) / 1000));
  }
  return RATE_WINDOW_MS / 1000;
}

function emptyStats(): SandboxStats {
  return {
    calls: { match: 0, enrich: 0, bulk_enrich: 0 },
    items: { match: 0, enrich: 0, bulk_enrich: 0 },
    responses: {},
    domainsMatched: {},
    businessIdsEnriched: {},
    creditsUsed: 0,
    counted: { units: 0, firstAt: null, lastAt: null, lastUnits: 0, peakWindowUnits: 0 },
  };
}

function increment(record: Record<string, number>, key: string, by = 1): void {
  record[key] = (Object.hasOwn(record, key) ? (record[key] ?? 0) : 0) + by;
}

/** The emulator's plugin, with `stats()` and `reset()` to observe it. */
export function createExploriumEmulator(opts: ExploriumEmulatorOptions = {}): {
  plugin: FastifyPluginAsync;
  /** Explorium's 404 for a path it does not serve. */
  notFound(reply: FastifyReply): FastifyReply;
  stats(): SandboxStats;
  /** Zeroes the stats (not the credits used, not the rate-limit windows, not known businesses). */
  reset(): void;
  /** Drops answers waiting on `latencyMs`, so a server can close at once. */
  abort(): void;
} {
  validateFaultOptions(opts);
  const latencyMs = opts.latencyMs ?? 0;
  const errorRate = opts.errorRate ?? 0;
  const rateLimitPerMin = opts.rateLimitPerMin ?? 0;
  const rateLimitUnit = opts.rateLimitUnit ?? 'request';
  const rateLimitReset = opts.rateLimitReset ?? 'oldest';
  const random = opts.random ?? Math.random;
  const directory = createSandboxDirectory();
  // Per key, the calls of the last 60 s and what each counted (1, or its items), oldest first.
  const windows = new Map<string, { at: number; units: number }[]>();
  const closing = new AbortController();
  let stats = emptyStats();
  // Kept apart from stats: reset() clears counters for the next test, not the account's balance.
  let creditsUsed = 0;

  /**
   * Records this call in the key's sliding window unless it would take the window over the limit.
   * `items` is what the call carries; it counts as 1 or as `items` by `rateLimitUnit`.
   */
  function admit(
    apiKey: string,
    now: number,
    items: number,
  ): { allowed: boolean; headers: Record<string, string>; retryAfterS: number } {
    const limit = rateLimitPerMin > 0 ? rateLimitPerMin : UNLIMITED_RATE_LIMIT_PER_MIN;
    const units = rateLimitUnit === 'record' ? Math.max(1, items) : 1;
    const window = (windows.get(apiKey) ?? []).filter((call) => call.at > now - RATE_WINDOW_MS);
    const used = window.reduce((sum, call) => sum + call.units, 0);
    const allowed = rateLimitPerMin === 0 || used + units <= limit;
    if (allowed) {
      window.push({ at: now, units });
      const counted = stats.counted;
      counted.units += units;
      counted.firstAt ??= now;
      counted.lastAt = now;
      counted.lastUnits = units;
      counted.peakWindowUnits = Math.max(counted.peakWindowUnits, used + units);
    }
    windows.set(apiKey, window);
    const oldest = window[0]?.at ?? now;
    const resetAt = rateLimitReset === 'window' ? now + RATE_WINDOW_MS : oldest + RATE_WINDOW_MS;
    return {
      allowed,
      retryAfterS: allowed ? 0 : retryAfterSeconds(window, used, units, limit, now),
      headers: {
        'x-ratelimit-limit': String(limit),
        'x-ratelimit-remaining': String(Math.max(0, limit - used - (allowed ? units : 0))),
        'x-ratelimit-reset': String(Math.ceil(resetAt / 1000)),
      },
    };
  }

  function idleRateHeaders(now: number): Record<string, string> {
    const limit = rateLimitPerMin > 0 ? rateLimitPerMin : UNLIMITED_RATE_LIMIT_PER_MIN;
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(limit),
      'x-ratelimit-reset': String(Math.ceil((now + RATE_WINDOW_MS) / 1000)),
    };
  }

  function errorBody(details: string, correlationId: string): Record<string, unknown> {
    return { details, correlation_id: correlationId };
  }

  function handleMatch(items: MatchItem[]): Reply {
    let matches = 0;
    const matched = items.map((input) => {
      const domainInput = input.domain ?? input.url ?? null;
      if (domainInput !== null) {
        increment(stats.domainsMatched, domainInput.trim().toLowerCase());
        const found = directory.lookupDomain(domainInput);
        if (found.kind === 'invalid')
          return { input, business_id: null, error: found.message, error_type: 'invalid_domain' };
        if (found.kind === 'match') {
          matches += 1;
          return { input, business_id: found.business.businessId };
        }
        return { input, business_id: null };
      }
      if (input.name) {
        const business = directory.lookupName(input.name);
        if (business) matches += 1;
        return { input, business_id: business?.businessId ?? null };
      }
      if (input.linkedin_url) return { input, business_id: null };
      return {
        input,
        business_id: null,
        error: 'At least one of name, domain, url or linkedin_url is required',
        error_type: 'missing_identifier',
      };
    });
    // Only a list of plain misses is left out: per-item errors must still reach the caller.
    const omit = opts.omitEmptyLists === true && matches === 0 && matched.every((m) => !('error' in m));
    return {
      status: 200,
      body: {
        request_status: matches > 0 ? 'success' : 'miss',
        total_results: items.length,
        total_matches: matches,
        ...(omit ? {} : { matched_businesses: matched }),
      },
    };
  }

  function billOrRefuse(businesses: SandboxBusiness[], correlationId: string): Reply | null {
    const cost = businesses.filter((business) => business.data !== null).length;
    if (opts.creditLimit !== undefined && creditsUsed + cost > opts.creditLimit) {
      return {
        status: 403,
        body: errorBody(
          `You have insufficient credits to complete this request: it needs ${cost}, ${Math.max(0, opts.creditLimit - creditsUsed)} remain.`,
          correlationId,
        ),
      };
    }
    creditsUsed += cost;
    stats.creditsUsed += cost;
    return null;
  }

  function handleBulkEnrich(ids: string[], correlationId: string): Reply {
    const known = ids.flatMap((id) => {
      const business = directory.findById(id.trim().toLowerCase());
      return business ? [{ id, business }] : [];
    });
    const refused = billOrRefuse(
      known.map((entry) => entry.business),
      correlationId,
    );
    if (refused) return refused;
    for (const id of ids) increment(stats.businessIdsEnriched, id);
    const rows = known.map(({ id, business }) =>
      business.data ? { business_id: id, data: business.data } : { business_id: id },
    );
    return {
      status: 200,
      body: {
        request_status: rows.some((row) => 'data' in row) ? 'success' : 'miss',
        total_results: rows.length,
        ...(opts.omitEmptyLists === true && rows.length === 0 ? {} : { data: rows }),
      },
    };
  }

  function handleEnrich(id: string, correlationId: string): Reply {
    const business = directory.findById(id.trim().toLowerCase());
    if (!business) return { status: 404, body: errorBody(`No business with id ${id}`, correlationId) };
    const refused = billOrRefuse([business], correlationId);
    if (refused) return refused;
    increment(stats.businessIdsEnriched, id);
    const shape = singleEnrichShape(business.businessId);
    const data = shape === 'object' ? business.data : business.data ? [business.data] : [];
    return {
      status: 200,
      body: { request_status: business.data ? 'success' : 'miss', entity_id: business.businessId, data },
    };
  }

  function handleApi(
    endpoint: SandboxEndpoint,
    apiKey: string | undefined,
    body: ParsedBody,
    correlationId: string,
    now: number,
  ): Reply {
    if (!apiKey || (opts.apiKey !== undefined && apiKey !== opts.apiKey)) {
      return {
        status: 401,
        body: errorBody(apiKey ? 'Invalid API key' : 'Missing api_key header', correlationId),
        headers: idleRateHeaders(now),
      };
    }
    const admission = admit(apiKey, now, body.kind === 'json' ? itemsIn(body.value) : 1);
    if (!admission.allowed) {
      return {
        status: 429,
        headers: { ...admission.headers, 'retry-after': String(admission.retryAfterS) },
        body: {
          error: 'rate_limit_exceeded',
          message: `Rate limit of ${rateLimitPerMin} ${rateLimitUnit}s per minute exceeded`,
          retry_after: admission.retryAfterS,
        },
      };
    }
    const withRate = (reply: Reply): Reply => ({
      ...reply,
      headers: { ...admission.headers, ...reply.headers },
    });

    if (errorRate > 0 && random() < errorRate) {
      return withRate(
        random() < 0.5
          ? { status: 500, body: errorBody('Internal server error', correlationId) }
          : { status: 503, body: errorBody('Service temporarily unavailable', correlationId) },
      );
    }

    if (body.kind === 'too_large')
      return withRate({ status: 413, body: errorBody('Request body too large', correlationId) });
    if (body.kind === 'invalid') {
      return withRate({
        status: 400,
        body: errorBody(`Request body is not valid JSON: ${body.reason}`, correlationId),
      });
    }

    try {
      if (endpoint === 'match') {
        const items = validateMatch(body.value);
        const reply = handleMatch(items);
        stats.items.match += items.length;
        return withRate(reply);
      }
      if (endpoint === 'bulk_enrich') {
        const ids = validateBulkEnrich(body.value);
        const reply = handleBulkEnrich(ids, correlationId);
        if (reply.status === 200) stats.items.bulk_enrich += ids.length;
        return withRate(reply);
      }
      const id = validateEnrich(body.value);
      const reply = handleEnrich(id, correlationId);
      if (reply.status === 200) stats.items.enrich += 1;
      return withRate(reply);
    } catch (err) {
      if (err instanceof ValidationError) return withRate({ status: 422, body: { detail: err.issues } });
      throw err;
    }
  }

  // When each API call arrived, for `time_took_in_seconds` (which counts latencyMs in).
  const arrivals = new WeakMap<FastifyRequest, number>();

  /** Explorium's envelope: every answer, errors included, opens with `response_context`. */
  function send(reply: FastifyReply, result: Reply, correlationId = randomUUID()): FastifyReply {
    const startedAt = arrivals.get(reply.request) ?? performance.now();
    const succeeded = result.status >= 200 && result.status < 300;
    const { request_status: requestStatus, ...rest } = result.body;
    const payload = {
      response_context: {
        correlation_id: correlationId,
        request_status: succeeded ? (requestStatus ?? 'success') : 'failure',
        time_took_in_seconds: Number(((performance.now() - startedAt) / 1000).toFixed(3)),
      },
      ...rest,
    };
    return reply
      .code(result.status)
      .headers({ 'content-type': 'application/json', ...result.headers })
      .send(jsonBytes(payload));
  }

  async function answerCall(
    endpoint: SandboxEndpoint,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const correlationId = randomUUID();
    const now = Date.now();
    stats.calls[endpoint] += 1;
    const header = req.headers.api_key;
    const apiKey = Array.isArray(header) ? header[0] : header;
    // No body at all (no length, no chunks) reaches the handler unparsed: it is empty text.
    const body = (req.body as ParsedBody | undefined) ?? parseJson('');
    const result = handleApi(endpoint, apiKey, body, correlationId, now);
    increment(stats.responses, String(result.status));
    if (latencyMs > 0) {
      try {
        await delay(latencyMs, undefined, { signal: closing.signal });
      } catch {
        // The server is closing: the call goes unanswered, its connection is closed with the server.
        return reply.hijack();
      }
    }
    return send(reply, result, correlationId);
  }

  const plugin: FastifyPluginAsync = async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_req: FastifyRequest, payload: IncomingMessage) => readBody(payload));
    app.addHook('onRequest', async (req) => {
      arrivals.set(req, performance.now());
      // Every body is read as JSON whatever type it declares (with or without a charset, or none),
      // and Fastify's 415 for a type it cannot even parse never stands in for Explorium's answer.
      delete req.headers['content-type'];
    });
    app.setErrorHandler((err: Error, _req, reply) =>
      reply
        .code(500)
        .header('content-type', 'application/json')
        .send(jsonBytes({ details: `Sandbox bug: ${err.message}` })),
    );
    app.get('/_sandbox/stats', { exposeHeadRoute: false }, (_req, reply) =>
      reply.header('content-type', 'application/json').send(jsonBytes(stats)),
    );
    app.post('/_sandbox/reset', (_req, reply) => {
      stats = emptyStats();
      return reply.code(204).send();
    });
    for (const [url, endpoint] of Object.entries(EXPLORIUM_ROUTES)) {
      app.route({
        method: app.supportedMethods,
        url,
        exposeHeadRoute: false,
        // Answered before Fastify reads a body, as node:http did (and Fastify would answer a
        // QUERY without a content type 400 itself).
        onRequest: async (req, reply) => {
          if (req.method === 'POST') return;
          return send(reply, {
            status: 405,
            body: { detail: 'Method Not Allowed' },
            headers: { ...idleRateHeaders(Date.now()), allow: 'POST' },
          });
        },
        handler: (req, reply) => answerCall(endpoint, req, reply),
      });
    }
  };

  return {
    plugin,
    notFound: (reply) =>
      send(reply, { status: 404, body: { detail: 'Not Found' }, headers: idleRateHeaders(Date.now()) }),
    stats: () => structuredClone(stats),
    reset: () => {
      stats = emptyStats();
    },
    abort: () => closing.abort(),
  };
}
