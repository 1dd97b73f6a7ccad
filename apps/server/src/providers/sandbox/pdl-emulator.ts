/**
 * A People Data Labs emulator serving SYNTHETIC companies (see pdl-data.ts): the Company
 * Enrichment API as docs/providers/pdl-api.md describes it, for development and tests.
 *
 * - `GET /v5/company/enrich` (query parameters) and `POST /v5/company/enrich/bulk`
 *   (`{ requests: [{ params, metadata? }] }`, 1 to 100 per call, else 400; an array in request
 *   order, each item with its own `status`).
 * - The key comes in `X-Api-Key` (or the `api_key` parameter); a missing or wrong one gets 401.
 * - A match is billed one credit; 404s (not found, or below `min_likelihood`, or missing a
 *   `required` field) and failed calls bill nothing. Out of credits answers 402.
 * - A fixed 60 s window per key; past the limit 429 with the rate-limit headers.
 * - Faults: latency, a share of 5xx answers, a share of items answered 429/5xx inside a bulk
 *   answer (the first time their website is asked), a key refused 403.
 *
 * Where PDL's pages leave a behaviour open, each reading is an option (see PdlEmulatorOptions):
 * the form of `x-ratelimit-reset`, of the per-window headers, whether a 429 carries Retry-After,
 * what the rate limit counts, whether a 429 carries the rate-limit headers at all, what happens when
 * credits run out inside a bulk call, whether a bulk item carries the record flat or under `data`,
 * in which order the items come and whether they echo their metadata, and 200 items whose record
 * is empty. `update()` changes settings while it runs (credits bought, access granted).
 *
 * `counts()` says what it received and billed, so tests compare the client's ledger with it; an
 * emulator in another process answers the same at `GET /_emulator/counts` (`POST /_emulator/reset`).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createEmulatorApp, listenOn, validateFaultOptions } from './emulator-http';
import { lookupPdlWebsite, type PdlCompanyRecord } from './pdl-data';
import { hashReader } from './synthetic-hash';

export const PDL_MAX_BULK_REQUESTS = 100;
const DEFAULT_RATE_WINDOW_MS = 60_000;
/** Reported when no limit is configured, so a client pacing by the headers never slows down. */
const UNLIMITED_RATE_LIMIT_PER_MIN = 10_000;
const CREDITS_TYPE = 'enrich_company';
const IDENTIFYING_PARAMS = ['pdl_id', 'name', 'website', 'profile', 'ticker'] as const;

export type PdlRateLimitResetFormat = 'iso' | 'epoch_seconds' | 'seconds_from_now';
export type PdlWindowHeaderStyle = 'python_dict' | 'json' | 'number';
export type PdlRateLimitUnit = 'request' | 'record';
export type PdlCreditsExhausted = 'per_item' | 'whole_call';
export type PdlBulkItemShape = 'flat' | 'data';
export type PdlItemOrder = 'request' | 'reversed';
export type PdlItemMetadata = 'echoed' | 'omitted';
export type PdlItemFaultStatus = 429 | 500 | 502 | 503;

export type PdlEmulatorOptions = {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  /** When set, any other key gets 401; a call without a key always does. */
  apiKey?: string;
  /** Added before every API answer, in ms. Default 0. */
  latencyMs?: number;
  /** Share of calls (0..1) answered 500, 502 or 503 after being admitted. Default 0. */
  errorRate?: number;
  /** Calls (or records, see `rateLimitUnit`) per fixed 60 s window per key; 0 = no limit. Default 0. */
  rateLimitPerMin?: number;
  /**
   * What the limit counts: each call once (`request`, the default: PDL's pages speak of requests
   * per minute and suggest the bulk endpoint to stay under it) or each item of a bulk call
   * (`record`: the header table calls the per-minute figure "credits").
   */
  rateLimitUnit?: PdlRateLimitUnit;
  /**
   * `x-ratelimit-reset` as an ISO-8601 UTC timestamp (`iso`, the documented sample), as unix
   * seconds, or as seconds from now. Default `iso`.
   */
  rateLimitResetFormat?: PdlRateLimitResetFormat;
  /**
   * `x-ratelimit-limit` / `x-ratelimit-remaining` as `{'minute': 99}` (`python_dict`, what the
   * official JS client's parser expects), as JSON `{"minute": 99}`, or as a bare number.
   */
  windowHeaderStyle?: PdlWindowHeaderStyle;
  /** Also send `Retry-After` (seconds) with a 429; PDL's pages do not mention it. Default false. */
  retryAfterHeader?: boolean;
  /** Credits (matches) the account may bill; unset = unlimited. */
  creditLimit?: number;
  /**
   * When a bulk call finds more matches than credits left: bill what fits and answer the rest 402
   * item by item (`per_item`, the default: "the same as calling the Company Enrichment API
   * multiple times"), or refuse the whole call 402 billing nothing (`whole_call`). Either way a
   * call arriving with no credit left gets 402.
   */
  creditsExhausted?: PdlCreditsExhausted;
  /** A bulk item's record fields at its top level (`flat`, as the single endpoint) or under `data`. Default `flat`. */
  bulkItemShape?: PdlBulkItemShape;
  /**
   * Bulk items in request order (the default) or reversed: PDL's pages show the answer as an
   * array and say to connect requests to answers by their metadata, without promising the order.
   */
  itemOrder?: PdlItemOrder;
  /** Bulk items echo the request's `metadata` (`echoed`, the default: "any metadata that the user included") or never. */
  itemMetadata?: PdlItemMetadata;
  /**
   * Share (0..1) of matches answered 200 with their likelihood but an empty record, chosen by the
   * website's hash (the same websites every run). Billed like any 200. Default 0.
   */
  emptyRecordShare?: number;
  /**
   * Share (0..1) of bulk items answered `itemFaultStatus` inside an answered (200) call, chosen by
   * the website's hash, the first time that website is asked only (a retry is answered). Not
   * billed. Default 0.
   */
  itemFaultShare?: number;
  /** The status of those items. Default 503. */
  itemFaultStatus?: PdlItemFaultStatus;
  /** Every call with the right key answered 403 (the key may not use company enrichment). Default false. */
  forbidden?: boolean;
  /** Whether answers (429s included) carry the `x-ratelimit-*` headers. Default true. */
  rateLimitHeaders?: boolean;
  /** Length of the fixed rate-limit window, in ms. Default 60,000 (PDL's); tests shorten it. */
  rateWindowMs?: number;
  /** Source of randomness for faults. Default Math.random. */
  random?: () => number;
};

export type PdlEmulatorCounts = {
  /** Requests received per endpoint, whatever the answer. */
  calls: { enrich: number; bulk: number };
  /** Answers per HTTP status. */
  responses: Record<string, number>;
  /** Items of answered (200) calls, by their own status. */
  items: { sent: number; matched: number; notFound: number; errors: number };
  /** Credits billed: one per item answered 200. */
  creditsSpent: number;
  /** Website (as sent, trimmed and lowercased) → items of answered calls that asked for it. */
  websites: Record<string, number>;
  /** Website → credits billed for it: more than 1 means a company was paid for twice. */
  billedWebsites: Record<string, number>;
};

/** What `update()` may change while the emulator runs. */
export type PdlEmulatorSettings = Omit<PdlEmulatorOptions, 'host' | 'port' | 'random'>;

export type PdlEmulator = {
  url: string;
  port: number;
  counts(): PdlEmulatorCounts;
  /**
   * Changes settings for the calls that follow (e.g. a higher `creditLimit`: credits bought); a
   * change to the rate limit starts new windows.
   */
  update(settings: PdlEmulatorSettings): void;
  /** Zeroes the counts (not the credits spent, not the rate-limit windows). */
  reset(): void;
  close(): Promise<void>;
};

type Params = Record<string, unknown>;
type ItemAnswer = { status: number; body: Record<string, unknown> };
type Reply = { status: number; body: unknown; headers?: Record<string, string> };

const NOT_FOUND_MESSAGE = 'No records were found matching your request';

function emptyCounts(): PdlEmulatorCounts {
  return {
    calls: { enrich: 0, bulk: 0 },
    responses: {},
    items: { sent: 0, matched: 0, notFound: 0, errors: 0 },
    creditsSpent: 0,
    websites: {},
    billedWebsites: {},
  };
}

function errorBody(status: number, type: string, message: string): Record<string, unknown> {
  return { status, error: { type, message } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `min_likelihood` as PDL reads it: an integer 1..10 (a string from a query counts). */
function readMinLikelihood(value: unknown): number | null | 'invalid' {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 10) return 'invalid';
  return n;
}

/**
 * The fields a `required` expression names. PDL accepts boolean expressions over field names; the
 * emulator treats every name it finds as required (AND), which is what a list of names means.
 */
function requiredFields(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(/\s+(?:AND|and)\s+|,/)
    .map((field) => field.trim().replace(/^\(+|\)+$/g, ''))
    .filter((field) => /^[a-z_][a-z0-9_.]*$/.test(field));
}

function fieldPresent(record: PdlCompanyRecord, path: string): boolean {
  let value: unknown = record;
  for (const key of path.split('.')) {
    if (!isPlainObject(value)) return false;
    value = value[key];
  }
  if (value === null || value === undefined || value === '') return false;
  return !(Array.isArray(value) && value.length === 0);
}

function validateSettings(settings: PdlEmulatorSettings): void {
  validateFaultOptions(settings);
  for (const [name, value] of Object.entries({
    emptyRecordShare: settings.emptyRecordShare,
    itemFaultShare: settings.itemFaultShare,
  })) {
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new RangeError(`${name} must be within 0..1, got ${value}`);
    }
  }
  const windowMs = settings.rateWindowMs;
  if (windowMs !== undefined && !(Number.isFinite(windowMs) && windowMs > 0)) {
    throw new RangeError(`rateWindowMs must be a positive number, got ${windowMs}`);
  }
}

/** Whether the website falls in `share` of all websites, by its hash under `purpose` (stable across runs). */
function inShare(purpose: string, website: string, share: number | undefined): boolean {
  if (!share) return false;
  return hashReader(`${purpose}:${website}`)(10_000) < share * 10_000;
}

function websiteKey(params: Params): string | null {
  return typeof params.website === 'string' ? params.website.trim().toLowerCase() : null;
}

function windowHeader(style: PdlWindowHeaderStyle, value: number): string {
  if (style === 'number') return String(value);
  return style === 'json' ? JSON.stringify({ minute: value }) : `{'minute': ${value}}`;
}

/** A Fastify plugin serving the emulator, with `counts()` and `reset()` to observe it. */
export function createPdlEmulator(opts: PdlEmulatorOptions = {}): {
  plugin: FastifyPluginAsync;
  /** PDL's 404 for a path it does not serve: the server mounting the plugin decides which paths. */
  notFound(reply: FastifyReply): FastifyReply;
  counts(): PdlEmulatorCounts;
  reset(): void;
  update(settings: PdlEmulatorSettings): void;
  /** Aborts answers waiting on `latencyMs`, so a server can close at once. */
  abort(): void;
} {
  validateSettings(opts);
  // Read at each call, so update() takes effect on the next one.
  const settings: PdlEmulatorSettings = { ...opts };
  const random = opts.random ?? Math.random;
  const rateLimitPerMin = () => settings.rateLimitPerMin ?? 0;
  const limit = () => (rateLimitPerMin() > 0 ? rateLimitPerMin() : UNLIMITED_RATE_LIMIT_PER_MIN);
  const style = () => settings.windowHeaderStyle ?? 'python_dict';
  // Websites already answered once: an item fault strikes only the first asking.
  const askedBefore = new Set<string>();
  const closing = new AbortController();
  // Fixed windows per key: when the current one started and what it has counted.
  const windows = new Map<string, { startedAt: number; used: number }>();
  let counts = emptyCounts();
  // Kept apart from counts: reset() clears counters for the next test, not the account's balance.
  let creditsUsed = 0;

  function creditsLeft(): number {
    return settings.creditLimit === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(0, settings.creditLimit - creditsUsed);
  }

  function resetHeader(resetAtMs: number, now: number): string {
    const resetFormat = settings.rateLimitResetFormat ?? 'iso';
    if (resetFormat === 'epoch_seconds') return String(Math.ceil(resetAtMs / 1000));
    if (resetFormat === 'seconds_from_now') return String(Math.max(0, Math.ceil((resetAtMs - now) / 1000)));
    return `${new Date(Math.ceil(resetAtMs / 1000) * 1000).toISOString().slice(0, 19)}Z`;
  }

  function accountHeaders(spent: number): Record<string, string> {
    return {
      'x-call-credits-spent': String(spent),
      'x-call-credits-type': CREDITS_TYPE,
      'x-lifetime-used': String(creditsUsed),
      ...(settings.creditLimit === undefined ? {} : { 'x-totallimit-remaining': String(creditsLeft()) }),
    };
  }

  /** Counts the call in the key's window unless that would take it over the limit. */
  function admit(
    key: string,
    units: number,
    now: number,
  ): { allowed: boolean; headers: Record<string, string> } {
    const windowMs = settings.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
    let window = windows.get(key);
    if (!window || now >= window.startedAt + windowMs) {
      window = { startedAt: now, used: 0 };
      windows.set(key, window);
    }
    const allowed = rateLimitPerMin() === 0 || window.used + units <= limit();
    if (allowed) window.used += units;
    const resetAtMs = window.startedAt + windowMs;
    const headers: Record<string, string> =
      settings.rateLimitHeaders === false
        ? {}
        : {
            'x-ratelimit-limit': windowHeader(style(), limit()),
            'x-ratelimit-remaining': windowHeader(style(), Math.max(0, limit() - window.used)),
            'x-ratelimit-reset': resetHeader(resetAtMs, now),
          };
    if (!allowed && settings.retryAfterHeader) {
      headers['retry-after'] = String(Math.max(1, Math.ceil((resetAtMs - now) / 1000)));
    }
    return { allowed, headers };
  }

  function readKey(req: FastifyRequest): string | null {
    const header = req.headers['x-api-key'];
    const fromHeader = Array.isArray(header) ? header[0] : header;
    const query = req.query as Record<string, unknown> | undefined;
    const fromQuery = typeof query?.api_key === 'string' ? query.api_key : undefined;
    const key = fromHeader ?? fromQuery;
    return key && key.trim() !== '' ? key : null;
  }

  /** One enrichment as the single endpoint would answer it, before billing. */
  function enrichOne(params: Params, shared: Params): ItemAnswer & { record?: PdlCompanyRecord } {
    if (!IDENTIFYING_PARAMS.some((name) => typeof params[name] === 'string' && params[name] !== '')) {
      return {
        status: 400,
        body: errorBody(
          400,
          'invalid_request_error',
          `The request must include at least one of: ${IDENTIFYING_PARAMS.join(', ')}`,
        ),
      };
    }
    const minLikelihood = readMinLikelihood(params.min_likelihood ?? shared.min_likelihood);
    if (minLikelihood === 'invalid') {
      return {
        status: 400,
        body: errorBody(400, 'invalid_request_error', 'min_likelihood must be an integer from 0 to 10'),
      };
    }
    const website = typeof params.website === 'string' ? params.website : null;
    if (website === null) {
      // The emulator knows companies by website only; a name, profile or ticker alone finds nothing.
      return { status: 404, body: errorBody(404, 'not_found', NOT_FOUND_MESSAGE) };
    }
    const found = lookupPdlWebsite(website);
    if (found.kind === 'invalid') {
      return {
        status: 400,
        body: errorBody(400, 'invalid_request_error', `Invalid website: ${found.message}`),
      };
    }
    if (found.kind === 'not_found' || (minLikelihood !== null && found.likelihood < minLikelihood)) {
      return { status: 404, body: errorBody(404, 'not_found', NOT_FOUND_MESSAGE) };
    }
    const required = requiredFields(params.required ?? shared.required);
    if (required.some((field) => !fieldPresent(found.record, field))) {
      return { status: 404, body: errorBody(404, 'not_found', NOT_FOUND_MESSAGE) };
    }
    return {
      status: 200,
      body: { status: 200, likelihood: found.likelihood, ...found.record, matched: ['website'] },
      record: found.record,
    };
  }

  function countItem(status: number, params: Params): void {
    const website = websiteKey(params);
    if (website !== null) counts.websites[website] = (counts.websites[website] ?? 0) + 1;
    if (website !== null && status === 200) {
      counts.billedWebsites[website] = (counts.billedWebsites[website] ?? 0) + 1;
    }
    counts.items.sent += 1;
    if (status === 200) counts.items.matched += 1;
    else if (status === 404) counts.items.notFound += 1;
    else counts.items.errors += 1;
  }

  function bill(spent: number): void {
    creditsUsed += spent;
    counts.creditsSpent += spent;
  }

  const outOfCredits = (): Reply => ({
    status: 402,
    body: errorBody(402, 'payment_required', 'You have hit your account maximum (all matches used)'),
  });

  function handleSingle(params: Params): Reply {
    if (creditsLeft() === 0) return outOfCredits();
    const answer = enrichOne(params, {});
    if (answer.status === 400) return { status: 400, body: answer.body };
    countItem(answer.status, params);
    const spent = answer.status === 200 ? 1 : 0;
    bill(spent);
    return { status: answer.status, body: answer.body, headers: accountHeaders(spent) };
  }

  function validateBulk(
    body: unknown,
  ):
    | { ok: true; requests: { params: Params; metadata?: unknown }[]; shared: Params }
    | { ok: false; message: string } {
    if (!isPlainObject(body)) return { ok: false, message: 'The request body must be a JSON object' };
    const { requests, ...shared } = body;
    if (!Array.isArray(requests))
      return { ok: false, message: 'The request body must contain an array called requests' };
    if (requests.length === 0 || requests.length > PDL_MAX_BULK_REQUESTS) {
      return {
        ok: false,
        message: `requests must hold 1 to ${PDL_MAX_BULK_REQUESTS} request objects, got ${requests.length}`,
      };
    }
    const parsed: { params: Params; metadata?: unknown }[] = [];
    for (const [index, entry] of requests.entries()) {
      if (!isPlainObject(entry) || !isPlainObject(entry.params)) {
        return { ok: false, message: `requests[${index}] must be an object with a params object` };
      }
      parsed.push({ params: entry.params, ...('metadata' in entry ? { metadata: entry.metadata } : {}) });
    }
    return { ok: true, requests: parsed, shared };
  }

  function handleBulk(body: unknown): Reply {
    const valid = validateBulk(body);
    if (!valid.ok) return { status: 400, body: errorBody(400, 'invalid_request_error', valid.message) };
    if (creditsLeft() === 0) return outOfCredits();
    const answers = valid.requests.map(({ params }): ItemAnswer => {
      const website = websiteKey(params);
      const firstAsking = website !== null && !askedBefore.has(website);
      if (website !== null) askedBefore.add(website);
      if (firstAsking && inShare('item-fault', website, settings.itemFaultShare)) {
        const status = settings.itemFaultStatus ?? 503;
        const type = status === 429 ? 'rate_limit_error' : 'api_error';
        return { status, body: errorBody(status, type, 'This request could not be answered now') };
      }
      const answer = enrichOne(params, valid.shared);
      if (
        answer.status === 200 &&
        website !== null &&
        inShare('empty-record', website, settings.emptyRecordShare)
      ) {
        return { status: 200, body: { status: 200, likelihood: answer.body.likelihood } };
      }
      return answer;
    });
    const matches = answers.filter((a) => a.status === 200).length;
    if (settings.creditsExhausted === 'whole_call' && matches > creditsLeft()) return outOfCredits();
    const left = creditsLeft();
    let spent = 0;
    const items = answers.map((answer, index) => {
      const billable = answer.status === 200 && spent < left;
      if (billable) spent += 1;
      const { status, body: itemBody } =
        answer.status === 200 && !billable
          ? { ...outOfCredits(), body: outOfCredits().body as Params }
          : answer;
      countItem(status, valid.requests[index]?.params ?? {});
      let shaped: Params = itemBody;
      if (status === 200 && settings.bulkItemShape === 'data') {
        const { status: _status, likelihood, ...record } = itemBody;
        shaped = { status, likelihood, data: record };
      }
      const metadata = valid.requests[index]?.metadata;
      return metadata === undefined || settings.itemMetadata === 'omitted' ? shaped : { ...shaped, metadata };
    });
    if (settings.itemOrder === 'reversed') items.reverse();
    bill(spent);
    return { status: 200, body: items, headers: accountHeaders(spent) };
  }

  async function answer(
    req: FastifyRequest,
    reply: FastifyReply,
    endpoint: 'enrich' | 'bulk',
    handle: () => Reply,
    units: number,
  ): Promise<FastifyReply> {
    counts.calls[endpoint] += 1;
    const now = Date.now();
    const key = readKey(req);
    let result: Reply;
    if (key === null || (settings.apiKey !== undefined && key !== settings.apiKey)) {
      result = {
        status: 401,
        body: errorBody(401, 'authentication_error', key === null ? 'Missing API key' : 'Invalid API key'),
      };
    } else {
      const admission = admit(key, units, now);
      if (!admission.allowed) {
        result = {
          status: 429,
          body: errorBody(
            429,
            'rate_limit_error',
            'An error occurred due to requests hitting the API too quick',
          ),
          headers: { ...admission.headers, ...accountHeaders(0) },
        };
      } else if (settings.forbidden) {
        result = {
          status: 403,
          body: errorBody(403, 'forbidden', 'This API key may not use the Company Enrichment API'),
        };
      } else if ((settings.errorRate ?? 0) > 0 && random() < (settings.errorRate ?? 0)) {
        const roll = random();
        const status = roll < 1 / 3 ? 500 : roll < 2 / 3 ? 502 : 503;
        result = {
          status,
          body: errorBody(status, 'api_error', 'The server encountered an unexpected condition'),
          headers: admission.headers,
        };
      } else {
        const handled = handle();
        result = { ...handled, headers: { ...admission.headers, ...accountHeaders(0), ...handled.headers } };
      }
    }
    counts.responses[String(result.status)] = (counts.responses[String(result.status)] ?? 0) + 1;
    const latencyMs = settings.latencyMs ?? 0;
    if (latencyMs > 0) {
      try {
        await delay(latencyMs, undefined, { signal: closing.signal });
      } catch {
        // The server is closing: the call goes unanswered, its connection is closed with the server.
        return reply.hijack();
      }
    }
    return reply
      .code(result.status)
      .headers(result.headers ?? {})
      .send(result.body);
  }

  const plugin: FastifyPluginAsync = async (app) => {
    // PDL's error shape for what Fastify refuses before a handler runs (bad JSON, wrong type).
    app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? 400 : 500;
      const type = status === 400 ? 'invalid_request_error' : 'api_error';
      return reply.code(status).send(errorBody(status, type, err.message));
    });
    // Control routes for an emulator in another process (no key, not counted).
    app.get('/_emulator/counts', async () => structuredClone(counts));
    app.post('/_emulator/reset', async (_req, reply) => {
      counts = emptyCounts();
      return reply.code(204).send();
    });
    app.get('/v5/company/enrich', (req, reply) =>
      answer(req, reply, 'enrich', () => handleSingle(req.query as Params), 1),
    );
    app.post('/v5/company/enrich/bulk', (req, reply) => {
      const body = req.body;
      const size = isPlainObject(body) && Array.isArray(body.requests) ? body.requests.length : 1;
      const units =
        settings.rateLimitUnit === 'record' ? Math.max(1, Math.min(size, PDL_MAX_BULK_REQUESTS)) : 1;
      return answer(req, reply, 'bulk', () => handleBulk(body), units);
    });
  };

  return {
    plugin,
    notFound: (reply) => reply.code(404).send(errorBody(404, 'invalid_request_error', 'Unknown endpoint')),
    counts: () => structuredClone(counts),
    reset: () => {
      counts = emptyCounts();
    },
    update: (changes) => {
      validateSettings({ ...settings, ...changes });
      Object.assign(settings, changes);
      // A new limit starts new windows, so what an earlier setting counted does not carry over.
      if ('rateLimitPerMin' in changes || 'rateWindowMs' in changes || 'rateLimitUnit' in changes)
        windows.clear();
    },
    abort: () => closing.abort(),
  };
}

/** The emulator as a server of its own on loopback. */
export async function startPdlEmulator(opts: PdlEmulatorOptions = {}): Promise<PdlEmulator> {
  const emulator = createPdlEmulator(opts);
  const app = createEmulatorApp((_req, reply) => emulator.notFound(reply));
  await app.register(emulator.plugin);
  const address = await listenOn(app, opts.host ?? '127.0.0.1', opts.port ?? 0);
  let closed: Promise<void> | undefined;
  return {
    ...address,
    counts: emulator.counts,
    reset: emulator.reset,
    update: emulator.update,
    // Idempotent, so a test may close early and still leave the cleanup hook to close again.
    close: () => {
      closed ??= (async () => {
        emulator.abort();
        await app.close();
      })();
      return closed;
    },
  };
}
