/**
 * Explorium response bodies → our types. Pure: no I/O, no ProviderError (the client adds the
 * HTTP context a ProviderError needs).
 *
 * Parsing is lenient where it costs nothing and strict where we would otherwise lie:
 * - Unknown keys pass through everywhere; Explorium adds fields without notice.
 * - A firmographics field of the wrong type becomes null instead of failing the body: one odd
 *   field must not cost the other 49 companies of a batch.
 * - The envelope is strict where it is present: `matched_businesses` / `data` must be arrays, a
 *   bulk row must carry its `business_id`, a match `business_id` must be a string or null. Without
 *   these we cannot tell which company an answer belongs to, and guessing would write one
 *   company's data on another.
 * - An absent `matched_businesses` / `data` is empty: the published schema makes both optional
 *   (it requires only `response_context` and `total_results`), so an answer without them means
 *   "nothing matched" / "nothing known", not a broken answer. A body with neither of the required
 *   fields either is not taken for such an answer: it is more likely something else's JSON.
 *
 * How a broken body is classified (applied in explorium-client.ts):
 * - status 2xx, body not JSON at all → `transient`. A truncated transfer or a proxy's HTML page
 *   means something between us and Explorium failed; the same request may well succeed next time.
 * - status 2xx, JSON of the wrong shape → `permanent`. Explorium answered on purpose with a shape
 *   this code does not understand; every retry gets the same answer and spends credits and rate
 *   limit. It needs a code change, so fail the item and surface it.
 * - status 5xx with any body → `transient`, whatever the body says: the status is the signal.
 */
import { z } from 'zod';
import { type Firmographics, type ItemError, isItemError, type MatchResult } from '../provider';

/** A descriptive string field: wrong types degrade to null rather than failing the body. */
const lenientString = z.string().nullish().catch(null);

const ResponseContextSchema = z
  .looseObject({
    correlation_id: lenientString,
    request_status: lenientString,
    time_took_in_seconds: z.number().nullish().catch(null),
  })
  .nullish()
  .catch(null);

export const ExploriumFirmographicsSchema = z.looseObject({
  business_id: lenientString,
  name: lenientString,
  business_description: lenientString,
  website: lenientString,
  country_name: lenientString,
  region_name: lenientString,
  city_name: lenientString,
  naics_description: lenientString,
  linkedin_industry_category: lenientString,
  linkedin_profile: lenientString,
  // The reference types the two ranges as strings in one place and as objects in another.
  number_of_employees_range: z.unknown().optional(),
  yearly_revenue_range: z.unknown().optional(),
});
export type ExploriumFirmographics = z.infer<typeof ExploriumFirmographicsSchema>;

/** Single enrich documents `data` as an object or an array of objects; bulk rows are treated alike. */
const FirmographicsPayloadSchema = z
  .union([ExploriumFirmographicsSchema, z.array(ExploriumFirmographicsSchema)])
  .nullish();

/** The fields the published schema requires of every answer; see `envelopeOf`. */
const ENVELOPE_FIELDS = ['response_context', 'total_results'] as const;

export const MatchResponseSchema = z.looseObject({
  response_context: ResponseContextSchema,
  matched_businesses: z
    .array(
      z.looseObject({
        input: z.looseObject({ domain: lenientString }).nullish().catch(null),
        business_id: z.string().nullish(),
        error: z.unknown().optional(),
        error_type: z.unknown().optional(),
      }),
    )
    .nullish(),
});

export const BulkEnrichResponseSchema = z.looseObject({
  response_context: ResponseContextSchema,
  data: z
    .array(
      z.looseObject({
        business_id: z.string(),
        data: FirmographicsPayloadSchema,
        error: z.unknown().optional(),
        error_type: z.unknown().optional(),
      }),
    )
    .nullish(),
});

export const EnrichResponseSchema = z.looseObject({
  response_context: ResponseContextSchema,
  data: FirmographicsPayloadSchema,
});

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * The list an answer carries under `key`, `[]` when it leaves the optional key out (or sends null), or a problem
 * when the body has neither the key nor any field the published schema requires.
 */
function envelopeOf<T>(body: unknown, key: string, list: T[] | null | undefined): Parsed<T[]> {
  if (list !== undefined && list !== null) return { ok: true, value: list };
  const fields = typeof body === 'object' && body !== null ? Object.keys(body) : [];
  if (ENVELOPE_FIELDS.some((f) => fields.includes(f))) return { ok: true, value: [] };
  return {
    ok: false,
    problem: `the body has no ${key}, and none of ${ENVELOPE_FIELDS.join(', ')} either: not an answer of this API`,
  };
}

function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(body)';
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length > shown.length ? ` (+${error.issues.length - shown.length} more)` : '';
  return `${shown.join('; ')}${more}`;
}

function text(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed ? trimmed : null;
}

/**
 * Reduces a range field to a string: a string as is; an object or array only when exactly one
 * distinct non-empty string sits among its values (e.g. `{ "value": "51-200" }`); anything else
 * is unknown (null) rather than a guess.
 */
export function reduceRange(value: unknown): string | null {
  if (typeof value === 'string') return text(value);
  if (value === null || typeof value !== 'object') return null;
  const values: unknown[] = Array.isArray(value) ? value : Object.values(value);
  const strings = new Set(
    values.flatMap((v) => (typeof v === 'string' && v.trim() !== '' ? [v.trim()] : [])),
  );
  if (strings.size !== 1) return null;
  const [only] = strings;
  return only ?? null;
}

export const UNKNOWN_REVENUE_RANGE = 'Unknown';

export function toFirmographics(data: ExploriumFirmographics): Firmographics {
  return {
    name: text(data.name),
    industry: text(data.linkedin_industry_category) ?? text(data.naics_description),
    companySize: reduceRange(data.number_of_employees_range),
    revenueRange: reduceRange(data.yearly_revenue_range) ?? UNKNOWN_REVENUE_RANGE,
    country: text(data.country_name),
    region: text(data.region_name),
    city: text(data.city_name),
    website: text(data.website),
    linkedinUrl: text(data.linkedin_profile),
    description: text(data.business_description),
  };
}

/** An object with no own keys, or an empty array, is "matched, nothing known" just like a missing `data`. */
function payloadToFirmographics(payload: z.infer<typeof FirmographicsPayloadSchema>): Firmographics | null {
  if (payload === null || payload === undefined) return null;
  const first = Array.isArray(payload) ? payload[0] : payload;
  if (first === undefined || Object.keys(first).length === 0) return null;
  return toFirmographics(first);
}

function normalizeDomainForJoin(domain: string): string {
  return domain.trim().toLowerCase();
}

function itemError(error: unknown, errorType: unknown): { type: string; message: string } | null {
  if ((error === undefined || error === null) && (errorType === undefined || errorType === null)) return null;
  const message =
    typeof error === 'string'
      ? error
      : error === undefined || error === null
        ? 'no details'
        : JSON.stringify(error);
  return { type: typeof errorType === 'string' && errorType !== '' ? errorType : 'unknown', message };
}

/**
 * One MatchResult per requested domain, in request order. The doc promises the answer has the
 * same length and order; when an item echoes its input domain we check it, and fall back to
 * joining by that echo if the order was not kept.
 */
export function parseMatchResponse(body: unknown, domains: readonly string[]): Parsed<MatchResult[]> {
  const parsed = MatchResponseSchema.safeParse(body);
  if (!parsed.success)
    return { ok: false, problem: `unexpected match response: ${describeIssues(parsed.error)}` };
  const envelope = envelopeOf(body, 'matched_businesses', parsed.data.matched_businesses);
  if (!envelope.ok) return { ok: false, problem: `unexpected match response: ${envelope.problem}` };
  // A list left out is empty, not short: nothing matched, every domain is a miss.
  if (parsed.data.matched_businesses == null) {
    return { ok: true, value: domains.map((domain) => ({ domain, businessId: null })) };
  }
  const items = envelope.value;
  if (items.length !== domains.length) {
    return {
      ok: false,
      problem: `match response has ${items.length} results for ${domains.length} domains`,
    };
  }
  const byEcho = new Map<string, (typeof items)[number]>();
  for (const item of items) {
    const echoed = item.input?.domain;
    if (echoed) byEcho.set(normalizeDomainForJoin(echoed), item);
  }
  const results: MatchResult[] = [];
  for (const [index, domain] of domains.entries()) {
    const atPosition = items[index];
    const echoed = atPosition?.input?.domain;
    const item =
      echoed && normalizeDomainForJoin(echoed) !== normalizeDomainForJoin(domain)
        ? byEcho.get(normalizeDomainForJoin(domain))
        : atPosition;
    if (item === undefined) {
      return { ok: false, problem: `match response has no result for ${JSON.stringify(domain)}` };
    }
    const error = itemError(item.error, item.error_type);
    const businessId = text(item.business_id);
    if (error) results.push({ domain, businessId: null, error });
    else if (businessId) results.push({ domain, businessId });
    else results.push({ domain, businessId: null });
  }
  return { ok: true, value: results };
}

/**
 * Rows joined by `business_id`, never by position. Only requested ids are returned; a requested
 * id without a row is left out of the map (the port's "absent" case).
 */
export function parseBulkEnrichResponse(
  body: unknown,
  businessIds: readonly string[],
): Parsed<Map<string, Firmographics | null | ItemError>> {
  const parsed = BulkEnrichResponseSchema.safeParse(body);
  if (!parsed.success) {
    return { ok: false, problem: `unexpected bulk_enrich response: ${describeIssues(parsed.error)}` };
  }
  const envelope = envelopeOf(body, 'data', parsed.data.data);
  if (!envelope.ok) return { ok: false, problem: `unexpected bulk_enrich response: ${envelope.problem}` };
  const rows = new Map<string, Firmographics | null | ItemError>();
  for (const row of envelope.value) {
    const key = row.business_id.trim().toLowerCase();
    // A duplicated row must not replace data with nothing.
    if (rows.get(key) && !isItemError(rows.get(key))) continue;
    const data = payloadToFirmographics(row.data);
    // A row that failed (and carries nothing) fails its company alone, instead of reading as
    // "matched, nothing known", which would be stored and cached as enriched.
    const error = data === null ? itemError(row.error, row.error_type) : null;
    rows.set(key, error ? { error } : data);
  }
  const result = new Map<string, Firmographics | null | ItemError>();
  for (const id of businessIds) {
    const key = id.trim().toLowerCase();
    if (rows.has(key)) result.set(id, rows.get(key) ?? null);
  }
  return { ok: true, value: result };
}

const ErrorBodySchema = z.looseObject({
  correlation_id: lenientString,
  response_context: ResponseContextSchema,
  details: z.unknown().optional(),
  detail: z.unknown().optional(),
  message: z.unknown().optional(),
  error: z.unknown().optional(),
  retry_after: z.unknown().optional(),
});

function asErrorBody(body: unknown): z.infer<typeof ErrorBodySchema> | null {
  const parsed = ErrorBodySchema.safeParse(body);
  return parsed.success ? parsed.data : null;
}

/** Explorium puts it at the top of error bodies and in `response_context` of successful ones. */
export function readCorrelationId(body: unknown): string | null {
  const parsed = asErrorBody(body);
  return text(parsed?.correlation_id) ?? text(parsed?.response_context?.correlation_id) ?? null;
}

/** `retry_after` from a 429 body, in seconds; both documented 429 forms carry it. */
export function readRetryAfterSeconds(body: unknown): number | null {
  const value = asErrorBody(body)?.retry_after;
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

const MAX_DETAILS_CHARS = 300;

function formatValidationDetail(detail: unknown[]): string {
  return detail
    .map((entry) => {
      const parsed = z
        .looseObject({ loc: z.array(z.union([z.string(), z.number()])).catch([]), msg: z.string().catch('') })
        .safeParse(entry);
      if (!parsed.success) return JSON.stringify(entry);
      return `${parsed.data.loc.join('.') || '(body)'}: ${parsed.data.msg}`;
    })
    .join('; ');
}

/** The human part of an error body, whichever documented form it has (`details`, 422 `detail`, 429 `message`). */
export function readErrorDetails(body: unknown): string | null {
  const parsed = asErrorBody(body);
  if (!parsed) return null;
  const candidates = [parsed.details, parsed.detail, parsed.message, parsed.error];
  for (const candidate of candidates) {
    let found: string | null = null;
    if (typeof candidate === 'string') found = text(candidate);
    else if (Array.isArray(candidate) && candidate.length > 0) found = formatValidationDetail(candidate);
    if (found) return found.length > MAX_DETAILS_CHARS ? `${found.slice(0, MAX_DETAILS_CHARS)}…` : found;
  }
  return null;
}
