/**
 * The client against the sandbox as a real HTTP server on 127.0.0.1:0. Bodies the sandbox never
 * sends (broken JSON, other 429 forms, HTTP-date Retry-After) come from a fake fetch instead.
 */
import { describe, expect, it, vi } from 'vitest';
import { sandboxServers } from '../../../test/sandbox-servers';
import { isProviderError, type ProviderError } from '../provider';
import { lookupDomain, type SandboxBusiness } from '../sandbox/sandbox-data';
import {
  createExploriumClient,
  type ExploriumCallInfo,
  type ExploriumClientOptions,
  MAX_BATCH_SIZE,
  parseRateLimitHeaders,
  parseRetryAfterHeader,
} from './explorium-client';

const API_KEY = 'test-key';
const HEX_ID = /^[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sandbox = sandboxServers(API_KEY);

function client(baseUrl: string, overrides: Partial<ExploriumClientOptions> = {}) {
  const warnings: { obj: object; msg: string }[] = [];
  const calls: ExploriumCallInfo[] = [];
  const provider = createExploriumClient({
    baseUrl,
    apiKey: API_KEY,
    name: 'sandbox',
    timeoutMs: 5_000,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    onCall: (info) => calls.push(info),
    ...overrides,
  });
  return { provider, warnings, calls };
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isProviderError(err)) throw new Error(`expected a ProviderError, got ${String(err)}`);
  return err;
}

/** A synthetic domain whose sandbox business satisfies `predicate` (deterministic: same answer every run). */
function syntheticDomain(prefix: string, predicate: (business: SandboxBusiness) => boolean): string {
  for (let i = 0; i < 10_000; i++) {
    const domain = `${prefix}-${i}.com`;
    const found = lookupDomain(domain);
    if (found.kind === 'match' && predicate(found.business)) return domain;
  }
  throw new Error(`no synthetic domain with prefix ${prefix} fits`);
}

function fakeFetch(respond: () => Response) {
  const requests: { url: string; init: RequestInit | undefined }[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    requests.push({ url: String(input), init });
    return respond();
  };
  return { fetchImpl, requests };
}

describe('matchBusinesses', () => {
  it('matches a batch over HTTP, keeping order, length and misses', async () => {
    const server = await sandbox();
    const { provider } = client(server.url);
    const domains = [
      'stripe.com',
      'nothing-here.invalid',
      'acme-widgets.co.uk',
      'www.apple.com',
      'stripe.com',
    ];

    const results = await provider.matchBusinesses(domains);

    expect(results.map((r) => r.domain)).toEqual(domains);
    expect(results[1]).toEqual({ domain: 'nothing-here.invalid', businessId: null });
    for (const index of [0, 2, 3, 4]) expect(results[index]?.businessId).toMatch(HEX_ID);
    expect(results[0]?.businessId).toBe(results[4]?.businessId);
    expect(new Set(results.map((r) => r.businessId)).size).toBe(4);
    // The duplicate was sent once.
    expect(server.stats().items.match).toBe(4);
  });

  it('reports a per-item error without failing the batch', async () => {
    const server = await sandbox();
    const { provider } = client(server.url);

    const [bad, good] = await provider.matchBusinesses(['not a domain', 'stripe.com']);

    expect(bad).toMatchObject({
      domain: 'not a domain',
      businessId: null,
      error: { type: 'invalid_domain' },
    });
    expect(good?.businessId).toMatch(HEX_ID);
  });

  it('sends exactly the documented request', async () => {
    const { fetchImpl, requests } = fakeFetch(() =>
      Response.json({ matched_businesses: [{ input: { domain: 'stripe.com' }, business_id: null }] }),
    );
    const { provider } = client('https://api.example.test/', { fetchImpl });

    await provider.matchBusinesses(['stripe.com']);

    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('https://api.example.test/v1/businesses/match');
    expect(requests[0]?.init?.method).toBe('POST');
    expect(new Headers(requests[0]?.init?.headers).get('api_key')).toBe(API_KEY);
    expect(JSON.parse(String(requests[0]?.init?.body))).toEqual({
      request_context: null,
      businesses_to_match: [{ domain: 'stripe.com' }],
    });
  });

  it('treats 0 or more than 50 domains as a programming error', async () => {
    const { provider, calls } = client('http://127.0.0.1:9');
    const tooMany = Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => `d${i}.com`);

    await expect(provider.matchBusinesses([])).rejects.toThrow('1 to 50 items');
    const err = await provider.matchBusinesses(tooMany).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isProviderError(err)).toBe(false);
    expect(calls).toHaveLength(0);
  });
});

describe('enrichFirmographics', () => {
  it('joins bulk rows by business id', async () => {
    const server = await sandbox();
    const { provider } = client(server.url);
    const [stripe, apple] = await provider.matchBusinesses(['stripe.com', 'apple.com']);
    const ids = [apple?.businessId, stripe?.businessId].filter((id) => typeof id === 'string');
    expect(ids).toHaveLength(2);

    const firmographics = await provider.enrichFirmographics(ids);

    expect(firmographics.get(stripe?.businessId ?? '')).toMatchObject({
      name: 'Stripe',
      industry: 'financial services',
      country: 'united states',
      revenueRange: '1B-10B',
    });
    expect(firmographics.get(apple?.businessId ?? '')).toMatchObject({ name: 'Apple', city: 'cupertino' });
  });

  it('does not trust row order', async () => {
    const stripeId = 'a'.repeat(32);
    const otherId = 'b'.repeat(32);
    const { fetchImpl } = fakeFetch(() =>
      Response.json({
        data: [
          { business_id: otherId, data: { name: 'Other' } },
          { business_id: stripeId, data: { name: 'Stripe' } },
        ],
      }),
    );
    const { provider } = client('https://api.example.test', { fetchImpl });

    const firmographics = await provider.enrichFirmographics([stripeId, otherId]);

    expect(firmographics.get(stripeId)).toMatchObject({ name: 'Stripe' });
    expect(firmographics.get(otherId)).toMatchObject({ name: 'Other' });
  });

  it('maps a matched business with nothing known to null', async () => {
    const server = await sandbox();
    const { provider } = client(server.url);
    const empty = syntheticDomain('nothing-known', (b) => b.data === null);
    const [match] = await provider.matchBusinesses([empty]);
    const id = match?.businessId;
    if (!id) throw new Error('the synthetic domain should match');

    const firmographics = await provider.enrichFirmographics([id]);

    expect(firmographics.has(id)).toBe(true);
    expect(firmographics.get(id)).toBeNull();
  });

  it('says "Unknown" for synthetic companies without a revenue band', async () => {
    const server = await sandbox();
    const { provider } = client(server.url);
    const domain = syntheticDomain(
      'no-revenue',
      (b) => b.data !== null && b.data.yearly_revenue_range === undefined,
    );
    const [match] = await provider.matchBusinesses([domain]);

    const firmographics = await provider.enrichFirmographics([match?.businessId ?? '']);

    expect(firmographics.get(match?.businessId ?? '')).toMatchObject({ revenueRange: 'Unknown' });
  });
});

describe('errors', () => {
  it('429 becomes rate_limited with the Retry-After wait', async () => {
    const server = await sandbox({ rateLimitPerMin: 1 });
    const { provider } = client(server.url);
    await provider.matchBusinesses(['stripe.com']);

    const err = await providerError(provider.matchBusinesses(['apple.com']));

    expect(err.kind).toBe('rate_limited');
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(err.message).toMatch(/retry in \d+ s/);
  });

  it.each([
    [{ 'retry-after': '7' }, { error: 'rate_limit_exceeded', message: 'slow', retry_after: 60 }, 7_000],
    [{}, { code: 429, message: 'Too many requests', retry_after: 12 }, 12_000],
    [{}, { error: 'rate_limit_exceeded', message: 'slow' }, null],
  ])('429 with headers %j and body %j waits %j ms', async (headers, body, expected) => {
    const { fetchImpl } = fakeFetch(() => Response.json(body, { status: 429, headers }));
    const { provider } = client('https://api.example.test', { fetchImpl });

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe('rate_limited');
    expect(err.retryAfterMs).toBe(expected);
  });

  it.each([
    [0, 500],
    [0.7, 503],
  ])('a 5xx (random %d) is transient with status %d', async (roll, status) => {
    const server = await sandbox({ errorRate: 1, random: () => roll });
    const { provider } = client(server.url);

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe('transient');
    expect(err.status).toBe(status);
  });

  it('a wrong key is an auth error that says what to check', async () => {
    const server = await sandbox();
    const { provider } = client(server.url, { apiKey: 'wrong-key', name: 'explorium' });

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe('auth');
    expect(err.status).toBe(401);
    expect(err.message).toBe('Explorium rejected the API key (401): check EXPLORIUM_API_KEY');
  });

  it('running out of credits is a quota error', async () => {
    const server = await sandbox({ creditLimit: 1 });
    const { provider } = client(server.url);
    const matches = await provider.matchBusinesses(['stripe.com', 'apple.com']);
    const ids = matches.flatMap((m) => (m.businessId ? [m.businessId] : []));

    const err = await providerError(provider.enrichFirmographics(ids));

    expect(err.kind).toBe('quota');
    expect(err.status).toBe(403);
    expect(err.message).toContain('out of credits');
    expect(err.message).toContain('insufficient credits');
    expect(err.reachedProvider).toBe(true);
    // The refused call billed nothing, so one record still fits.
    const one = await provider.enrichFirmographics(ids.slice(0, 1));
    expect(one.size).toBe(1);
  });

  it('a call slower than timeoutMs is transient', async () => {
    const server = await sandbox({ latencyMs: 2_000 });
    const { provider, calls } = client(server.url, { timeoutMs: 100 });

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe('transient');
    expect(err.message).toContain('within 100 ms');
    expect(calls[0]?.status).toBeNull();
    // The request was sent: the provider may have counted and billed it.
    expect(err.reachedProvider).toBe(true);
  });

  it('an unreachable host is transient, and the call never reached the provider', async () => {
    const server = await sandbox();
    const url = server.url;
    await server.close();
    const { provider } = client(url);

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe('transient');
    expect(err.message).toContain(`Could not reach The Explorium sandbox at ${url}`);
    expect(err.reachedProvider).toBe(false);
  });

  it("a caller's abort rethrows the caller's reason and is not logged as a provider failure", async () => {
    const server = await sandbox({ latencyMs: 5_000 });
    const { provider, warnings } = client(server.url);
    const controller = new AbortController();
    const reason = new Error('worker shutting down');

    const pending = provider
      .matchBusinesses(['stripe.com'], { signal: controller.signal })
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.stats().calls.match).toBe(1));
    controller.abort(reason);

    expect(await pending).toBe(reason);
    expect(warnings).toHaveLength(0);
  });

  it.each([
    [200, 'not json at all', 'transient'],
    [200, '{"matched_businesses": "nope"}', 'permanent'],
    [502, '<html><body>Bad gateway</body></html>', 'transient'],
    [400, '{"details": "bad input", "correlation_id": "c-400"}', 'permanent'],
    [404, '{"detail": "Not Found"}', 'permanent'],
    [418, '', 'permanent'],
  ] as const)('status %d with body %j is %s', async (status, body, kind) => {
    const { fetchImpl } = fakeFetch(() => new Response(body, { status }));
    const { provider, warnings } = client('https://api.example.test', { fetchImpl });

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe(kind);
    expect(err.status).toBe(status);
    expect(warnings).toHaveLength(1);
  });

  it('a 404 points at the base URL', async () => {
    const server = await sandbox();
    const { provider } = client(`${server.url}/wrong-prefix`);

    const err = await providerError(provider.matchBusinesses(['stripe.com']));

    expect(err.kind).toBe('permanent');
    expect(err.message).toContain('check the provider base URL');
  });

  it('logs every failed call once, with endpoint, status and correlation id', async () => {
    const server = await sandbox({ errorRate: 1, random: () => 0 });
    const { provider, warnings, calls } = client(server.url);

    const err = await providerError(provider.enrichFirmographics(['a'.repeat(32)]));

    expect(err.correlationId).toMatch(UUID);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.obj).toMatchObject({
      endpoint: 'bulk_enrich',
      status: 500,
      correlation_id: err.correlationId,
      kind: 'transient',
    });
    expect(warnings[0]?.msg).toBe(err.message);
    expect(calls).toEqual([
      expect.objectContaining({ endpoint: 'bulk_enrich', correlationId: err.correlationId }),
    ]);
  });
});

describe('onCall', () => {
  it('reports each call with the rate-limit headers', async () => {
    const server = await sandbox({ rateLimitPerMin: 5 });
    const { provider, calls } = client(server.url);
    const before = Date.now();

    const [match] = await provider.matchBusinesses(['stripe.com', 'apple.com']);
    await provider.enrichFirmographics([match?.businessId ?? '']);

    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ endpoint: 'match', status: 200, items: 2 });
    expect(calls[0]?.correlationId).toMatch(UUID);
    expect(calls[0]?.rateLimit).toMatchObject({ limit: 5, remaining: 4 });
    expect(calls[1]).toMatchObject({
      endpoint: 'bulk_enrich',
      status: 200,
      items: 1,
      rateLimit: { remaining: 3 },
    });
    const resetAtMs = calls[0]?.rateLimit?.resetAtMs ?? 0;
    expect(resetAtMs).toBeGreaterThanOrEqual(before + 59_000);
    expect(resetAtMs).toBeLessThanOrEqual(Date.now() + 61_000);
    expect(calls[0]?.durationMs).toBeGreaterThan(0);
  });
});

describe('header parsing', () => {
  it('reads Retry-After as seconds or as an HTTP-date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterHeader('30', now)).toBe(30_000);
    expect(parseRetryAfterHeader('Wed, 01 Jan 2025 00:00:45 GMT', now)).toBe(45_000);
    expect(parseRetryAfterHeader('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterHeader('soon', now)).toBeNull();
    expect(parseRetryAfterHeader(null, now)).toBeNull();
  });

  it('reads X-RateLimit-* and needs all three', () => {
    const now = 1_700_000_000_000;
    const headers = new Headers({
      'x-ratelimit-limit': '200',
      'x-ratelimit-remaining': '17',
      'x-ratelimit-reset': '1700000042',
    });
    expect(parseRateLimitHeaders(headers, now)).toEqual({
      limit: 200,
      remaining: 17,
      resetAtMs: 1_700_000_042_000,
    });
    headers.delete('x-ratelimit-reset');
    expect(parseRateLimitHeaders(headers, now)).toBeNull();
  });
});
