/**
 * An Explorium-compatible HTTP emulator serving SYNTHETIC data (see sandbox-data.ts). Used in
 * development, by the default embedded mode when the user has no Explorium key, and in tests.
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
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
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

export type SandboxServerOptions = {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0: an ephemeral port, read it back from `port`/`url`. */
  port?: number;
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

export type SandboxServer = {
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): SandboxStats;
  /** Zeroes the stats (not the credits used, not the rate-limit windows, not known businesses). */
  reset(): void;
};

/** Explorium takes at most 50 items per match call and per bulk-enrich call. */
const MAX_BATCH_SIZE = 50;
const RATE_WINDOW_MS = 60_000;
/** Reported when no limit is configured, so clients pacing by the headers never slow down. */
const UNLIMITED_RATE_LIMIT_PER_MIN = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;
const MATCH_ITEM_FIELDS = ['name', 'domain', 'url', 'linkedin_url'] as const;

type ValidationIssue = { loc: (string | number)[]; msg: string; type: string };

type Reply = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

class ValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super('request validation failed');
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Pydantic-style checks: the messages and types mimic what a FastAPI service answers. */
function checkObject(
  body: unknown,
  allowed: readonly string[],
  required: readonly string[],
): Record<string, unknown> {
  if (!isPlainObject(body)) {
    throw new ValidationError([
      {
        loc: ['body'],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        type: 'model_attributes_type',
      },
    ]);
  }
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key))
      issues.push({ loc: ['body', key], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' });
  }
  for (const key of required) {
    if (!Object.hasOwn(body, key))
      issues.push({ loc: ['body', key], msg: 'Field required', type: 'missing' });
  }
  if (
    Object.hasOwn(body, 'request_context') &&
    body.request_context !== null &&
    !isPlainObject(body.request_context)
  ) {
    issues.push({
      loc: ['body', 'request_context'],
      msg: 'Input should be a valid dictionary',
      type: 'dict_type',
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return body;
}

function checkList(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new ValidationError([
      { loc: ['body', field], msg: 'Input should be a valid list', type: 'list_type' },
    ]);
  }
  if (value.length === 0) {
    throw new ValidationError([
      {
        loc: ['body', field],
        msg: 'List should have at least 1 item after validation, not 0',
        type: 'too_short',
      },
    ]);
  }
  if (value.length > MAX_BATCH_SIZE) {
    throw new ValidationError([
      {
        loc: ['body', field],
        msg: `List should have at most ${MAX_BATCH_SIZE} items after validation, not ${value.length}`,
        type: 'too_long',
      },
    ]);
  }
  return value;
}

function checkString(value: unknown, loc: (string | number)[]): string {
  if (typeof value !== 'string')
    throw new ValidationError([{ loc, msg: 'Input should be a valid string', type: 'string_type' }]);
  return value;
}

type MatchItem = Partial<Record<(typeof MATCH_ITEM_FIELDS)[number], string | null>>;

function validateMatch(body: unknown): MatchItem[] {
  const object = checkObject(body, ['request_context', 'businesses_to_match'], ['businesses_to_match']);
  const list = checkList(object.businesses_to_match, 'businesses_to_match');
  const issues: ValidationIssue[] = [];
  const items = list.map((entry, index): MatchItem => {
    if (!isPlainObject(entry)) {
      issues.push({
        loc: ['body', 'businesses_to_match', index],
        msg: 'Input should be a valid dictionary',
        type: 'dict_type',
      });
      return {};
    }
    const item: MatchItem = {};
    for (const field of MATCH_ITEM_FIELDS) {
      const value = entry[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') {
        issues.push({
          loc: ['body', 'businesses_to_match', index, field],
          msg: 'Input should be a valid string',
          type: 'string_type',
        });
        continue;
      }
      item[field] = value;
    }
    return item;
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return items;
}

function validateBulkEnrich(body: unknown): string[] {
  const object = checkObject(body, ['request_context', 'business_ids'], ['business_ids']);
  const list = checkList(object.business_ids, 'business_ids');
  return list.map((id, index) => checkString(id, ['body', 'business_ids', index]));
}

function validateEnrich(body: unknown): string {
  const object = checkObject(body, ['request_context', 'business_id'], ['business_id']);
  return checkString(object.business_id, ['body', 'business_id']);
}

function endpointFor(path: string): SandboxEndpoint | null {
  if (path === '/v1/businesses/match') return 'match';
  if (path === '/v1/businesses/firmographics/enrich') return 'enrich';
  if (path === '/v1/businesses/firmographics/bulk_enrich') return 'bulk_enrich';
  return null;
}

async function readBody(req: IncomingMessage): Promise<{ ok: true; text: string } | { ok: false }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return { ok: false };
    chunks.push(buffer);
  }
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
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

/** Items a call carries, for a limit counted in records: a body that is not a valid call counts 1. */
function itemsIn(body: unknown): number {
  if (!isPlainObject(body)) return 1;
  const list = body.businesses_to_match ?? body.business_ids;
  return Array.isArray(list) ? Math.max(1, Math.min(list.length, MAX_BATCH_SIZE)) : 1;
}

type ParsedBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'too_large' }
  | { kind: 'invalid'; reason: string };

async function parseBody(req: IncomingMessage): Promise<ParsedBody> {
  const raw = await readBody(req);
  if (!raw.ok) return { kind: 'too_large' };
  try {
    return { kind: 'json', value: JSON.parse(raw.text) };
  } catch (err) {
    return { kind: 'invalid', reason: err instanceof Error ? err.message : String(err) };
  }
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

function validateOptions(opts: SandboxServerOptions): void {
  const errorRate = opts.errorRate ?? 0;
  if (!(errorRate >= 0 && errorRate <= 1))
    throw new RangeError(`errorRate must be within 0..1, got ${errorRate}`);
  for (const [name, value] of Object.entries({
    latencyMs: opts.latencyMs,
    rateLimitPerMin: opts.rateLimitPerMin,
    creditLimit: opts.creditLimit,
  })) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`${name} must be a non-negative number, got ${value}`);
    }
  }
}

export async function startSandboxServer(opts: SandboxServerOptions = {}): Promise<SandboxServer> {
  validateOptions(opts);
  const host = opts.host ?? '127.0.0.1';
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

  async function handleApi(
    endpoint: SandboxEndpoint,
    req: IncomingMessage,
    correlationId: string,
    now: number,
  ): Promise<Reply> {
    const header = req.headers.api_key;
    const apiKey = Array.isArray(header) ? header[0] : header;
    if (!apiKey || (opts.apiKey !== undefined && apiKey !== opts.apiKey)) {
      return {
        status: 401,
        body: errorBody(apiKey ? 'Invalid API key' : 'Missing api_key header', correlationId),
        headers: idleRateHeaders(now),
      };
    }
    // Read before admission: a limit counted in records needs the call's item count.
    const body = await parseBody(req);
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

  function send(res: ServerResponse, reply: Reply, correlationId: string, startedAt: number): void {
    const succeeded = reply.status >= 200 && reply.status < 300;
    const { request_status: requestStatus, ...rest } = reply.body;
    const payload = {
      response_context: {
        correlation_id: correlationId,
        request_status: succeeded ? (requestStatus ?? 'success') : 'failure',
        time_took_in_seconds: Number(((performance.now() - startedAt) / 1000).toFixed(3)),
      },
      ...rest,
    };
    const json = JSON.stringify(payload);
    res.writeHead(reply.status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(json)),
      ...reply.headers,
    });
    res.end(json);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const correlationId = randomUUID();
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;

    if (path === '/_sandbox/stats' && req.method === 'GET') {
      const json = JSON.stringify(snapshot());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(json);
      return;
    }
    if (path === '/_sandbox/reset' && req.method === 'POST') {
      reset();
      res.writeHead(204);
      res.end();
      return;
    }

    const endpoint = endpointFor(path);
    const now = Date.now();
    if (endpoint === null) {
      send(
        res,
        { status: 404, body: { detail: 'Not Found' }, headers: idleRateHeaders(now) },
        correlationId,
        startedAt,
      );
      return;
    }
    if (req.method !== 'POST') {
      send(
        res,
        {
          status: 405,
          body: { detail: 'Method Not Allowed' },
          headers: { ...idleRateHeaders(now), allow: 'POST' },
        },
        correlationId,
        startedAt,
      );
      return;
    }

    stats.calls[endpoint] += 1;
    const reply = await handleApi(endpoint, req, correlationId, now);
    increment(stats.responses, String(reply.status));
    if (latencyMs > 0) await delay(latencyMs, undefined, { signal: closing.signal });
    send(res, reply, correlationId, startedAt);
  }

  function snapshot(): SandboxStats {
    return structuredClone(stats);
  }

  function reset(): void {
    stats = emptyStats();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted) return;
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ details: `Sandbox bug: ${err instanceof Error ? err.message : String(err)}` }),
        );
      } else {
        res.destroy();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  // Idempotent, so a test may close early and still leave the cleanup hook to close again.
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve, reject) => {
      closing.abort();
      server.close((err) => (err ? reject(err) : resolve()));
      // Keep-alive sockets from fetch would otherwise hold close() open until they time out.
      server.closeAllConnections();
    });
    return closed;
  };
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats: snapshot,
    reset,
    close,
  };
}
