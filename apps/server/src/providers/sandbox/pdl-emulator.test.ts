/** The PDL emulator spoken to directly over HTTP, the way any PDL client would. */
import { describe, expect, it } from 'vitest';
import { pdlEmulators } from '../../../test/pdl-emulators';
import { lookupPdlWebsite } from './pdl-data';
import { PDL_MAX_BULK_REQUESTS, type PdlEmulator } from './pdl-emulator';

const API_KEY = 'pdl-test-key';
const emulator = pdlEmulators(API_KEY);
const BULK = '/v5/company/enrich/bulk';
const ENRICH = '/v5/company/enrich';

async function bulk(
  server: PdlEmulator,
  body: unknown,
  headers: Record<string, string> = { 'x-api-key': API_KEY },
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${server.url}${BULK}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function enrich(server: PdlEmulator, query: Record<string, string>) {
  const res = await fetch(`${server.url}${ENRICH}?${new URLSearchParams(query)}`);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const requestsFor = (websites: string[]) => ({
  requests: websites.map((website) => ({ params: { website } })),
});

describe('single enrichment', () => {
  it('answers a match flat, with its likelihood, and bills it', async () => {
    const server = await emulator();

    const res = await enrich(server, { website: 'stripe.com', api_key: API_KEY });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 200,
      name: 'stripe',
      display_name: 'Stripe',
      website: 'stripe.com',
    });
    expect(res.body.likelihood).toBeGreaterThanOrEqual(8);
    expect(res.headers.get('x-call-credits-spent')).toBe('1');
    expect(res.headers.get('x-call-credits-type')).toBe('enrich_company');
    expect(server.counts().creditsSpent).toBe(1);
  });

  it('answers a miss 404 with PDL’s error body and bills nothing', async () => {
    const server = await emulator();

    const res = await enrich(server, { website: 'nomatch-acme.com', api_key: API_KEY });

    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      status: 404,
      error: { type: 'not_found', message: 'No records were found matching your request' },
    });
    expect(res.headers.get('x-call-credits-spent')).toBe('0');
    expect(server.counts().creditsSpent).toBe(0);
  });

  it('answers 400 without any identifying parameter, and 401 without a key', async () => {
    const server = await emulator();

    expect((await enrich(server, { api_key: API_KEY, min_likelihood: '3' })).status).toBe(400);
    const noKey = await enrich(server, { website: 'stripe.com' });
    expect(noKey.status).toBe(401);
    expect(noKey.body).toMatchObject({ error: { type: 'authentication_error' } });
  });

  it('applies min_likelihood', async () => {
    const server = await emulator();
    const lookup = lookupPdlWebsite('stripe.com');
    if (lookup.kind !== 'match') throw new Error('stripe.com should match');

    const at = await enrich(server, {
      website: 'stripe.com',
      api_key: API_KEY,
      min_likelihood: String(lookup.likelihood),
    });
    const above = await enrich(server, {
      website: 'stripe.com',
      api_key: API_KEY,
      min_likelihood: String(lookup.likelihood + 1),
    });

    expect([at.status, above.status]).toEqual([200, lookup.likelihood === 10 ? 400 : 404]);
  });
});

describe('bulk enrichment', () => {
  it('answers an array in request order, echoing metadata, billing the 200s', async () => {
    const server = await emulator();

    const res = await bulk(server, {
      requests: [
        { params: { website: 'stripe.com' }, metadata: { row: 1 } },
        { params: { website: 'nomatch-acme.com' }, metadata: { row: 2 } },
        { params: { name: 'Stripe' } },
        { params: { website: 'not a domain' } },
        { params: { locality: 'berlin' } },
      ],
    });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject([
      { status: 200, display_name: 'Stripe', metadata: { row: 1 } },
      { status: 404, error: { type: 'not_found' }, metadata: { row: 2 } },
      { status: 404 },
      { status: 400, error: { type: 'invalid_request_error' } },
      { status: 400, error: { type: 'invalid_request_error' } },
    ]);
    expect(res.headers.get('x-call-credits-spent')).toBe('1');
    expect(server.counts()).toMatchObject({
      calls: { bulk: 1 },
      items: { sent: 5, matched: 1, notFound: 2, errors: 2 },
      creditsSpent: 1,
    });
  });

  it(`refuses more than ${PDL_MAX_BULK_REQUESTS} requests, and none, with 400`, async () => {
    const server = await emulator();
    const many = Array.from({ length: PDL_MAX_BULK_REQUESTS + 1 }, (_, i) => `d${i}.com`);

    const tooMany = await bulk(server, requestsFor(many));
    const none = await bulk(server, { requests: [] });
    const exactly = await bulk(server, requestsFor(many.slice(0, PDL_MAX_BULK_REQUESTS)));

    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ status: 400, error: { type: 'invalid_request_error' } });
    expect(none.status).toBe(400);
    expect(exactly.status).toBe(200);
    expect(server.counts().items.sent).toBe(PDL_MAX_BULK_REQUESTS);
  });

  it('answers 400 in PDL’s shape to a body that is not JSON or not a bulk request', async () => {
    const server = await emulator();

    const broken = await bulk(server, '{"requests": [');
    const shapeless = await bulk(server, { requests: [{ website: 'stripe.com' }] });

    expect(broken).toMatchObject({
      status: 400,
      body: { status: 400, error: { type: 'invalid_request_error' } },
    });
    expect(shapeless).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error' } } });
  });

  it('applies a top-level min_likelihood and required to every request', async () => {
    const server = await emulator();

    const strict = await bulk(server, {
      ...requestsFor(['stripe.com']),
      min_likelihood: 10,
      required: 'ticker',
    });
    const loose = await bulk(server, {
      ...requestsFor(['stripe.com']),
      required: 'website AND location.country',
    });

    const lookup = lookupPdlWebsite('stripe.com');
    const strictStatus =
      lookup.kind === 'match' && lookup.likelihood === 10 && lookup.record.ticker ? 200 : 404;
    expect((strict.body as { status: number }[])[0]?.status).toBe(strictStatus);
    expect((loose.body as { status: number }[])[0]?.status).toBe(200);
  });
});

describe('limits and faults', () => {
  it('counts a fixed window per key and says so in the headers', async () => {
    const server = await emulator({ rateLimitPerMin: 2 });

    const first = await bulk(server, requestsFor(['stripe.com']));
    const second = await bulk(server, requestsFor(['apple.com']));
    const third = await bulk(server, requestsFor(['microsoft.com']));

    expect(first.headers.get('x-ratelimit-limit')).toBe("{'minute': 2}");
    expect(first.headers.get('x-ratelimit-remaining')).toBe("{'minute': 1}");
    expect(first.headers.get('x-ratelimit-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(second.headers.get('x-ratelimit-reset')).toBe(first.headers.get('x-ratelimit-reset'));
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ status: 429, error: { type: 'rate_limit_error' } });
    expect(third.headers.get('retry-after')).toBeNull();
    expect(server.counts().creditsSpent).toBe(2);
  });

  it('keeps windows apart per key', async () => {
    const server = await emulator({ rateLimitPerMin: 1, apiKey: undefined });

    const a = await bulk(server, requestsFor(['stripe.com']), { 'x-api-key': 'key-a' });
    const b = await bulk(server, requestsFor(['stripe.com']), { 'x-api-key': 'key-b' });
    const a2 = await bulk(server, requestsFor(['stripe.com']), { 'x-api-key': 'key-a' });

    expect([a.status, b.status, a2.status]).toEqual([200, 200, 429]);
  });

  it('can send Retry-After with a 429', async () => {
    const server = await emulator({ rateLimitPerMin: 1, retryAfterHeader: true });
    await bulk(server, requestsFor(['stripe.com']));

    const limited = await bulk(server, requestsFor(['stripe.com']));

    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(55);
  });

  it('answers 402 once the credits are spent, with the balance in x-totallimit-remaining', async () => {
    const server = await emulator({ creditLimit: 1 });

    const first = await bulk(server, requestsFor(['stripe.com']));
    const second = await bulk(server, requestsFor(['apple.com']));

    expect(first.headers.get('x-totallimit-remaining')).toBe('0');
    expect(second.status).toBe(402);
    expect(second.body).toMatchObject({ status: 402, error: { type: 'payment_required' } });
  });

  it('counts and resets', async () => {
    const server = await emulator();
    await bulk(server, requestsFor(['Stripe.com ']));

    expect(server.counts().websites).toEqual({ 'stripe.com': 1 });
    expect(server.counts().responses).toEqual({ '200': 1 });
    expect(await (await fetch(`${server.url}/_emulator/counts`)).json()).toEqual(server.counts());
    server.reset();
    expect(server.counts().calls.bulk).toBe(0);
    await bulk(server, requestsFor(['stripe.com']));
    expect((await fetch(`${server.url}/_emulator/reset`, { method: 'POST' })).status).toBe(204);
    expect(server.counts().calls.bulk).toBe(0);
    // Counters start again; the account's balance does not.
    expect(server.counts().creditsSpent).toBe(0);
  });

  it('answers an unknown path 404', async () => {
    const server = await emulator();

    const res = await fetch(`${server.url}/v5/person/enrich`, { headers: { 'x-api-key': API_KEY } });

    expect(res.status).toBe(404);
  });

  it('refuses bad options', async () => {
    await expect(emulator({ errorRate: 2 })).rejects.toThrow('errorRate');
    await expect(emulator({ creditLimit: -1 })).rejects.toThrow('creditLimit');
    await expect(emulator({ itemFaultShare: 1.5 })).rejects.toThrow('itemFaultShare');
    await expect(emulator({ rateWindowMs: 0 })).rejects.toThrow('rateWindowMs');
    const server = await emulator();
    expect(() => server.update({ emptyRecordShare: -1 })).toThrow('emptyRecordShare');
  });

  it('answers 403 to a forbidden key until update() grants it', async () => {
    const server = await emulator({ forbidden: true });

    const refused = await bulk(server, requestsFor(['stripe.com']));
    server.update({ forbidden: false });
    const answered = await bulk(server, requestsFor(['stripe.com']));

    expect(refused).toMatchObject({ status: 403, body: { status: 403, error: { type: 'forbidden' } } });
    expect(answered.status).toBe(200);
    expect(server.counts().creditsSpent).toBe(1);
  });

  it('can leave the rate-limit headers out, 429 included, and shorten the window', async () => {
    const server = await emulator({ rateLimitPerMin: 1, rateLimitHeaders: false, rateWindowMs: 200 });

    const first = await bulk(server, requestsFor(['stripe.com']));
    const limited = await bulk(server, requestsFor(['apple.com']));
    await new Promise((resolve) => setTimeout(resolve, 250));
    const next = await bulk(server, requestsFor(['apple.com']));

    expect([first.status, limited.status, next.status]).toEqual([200, 429, 200]);
    for (const res of [first, limited, next]) expect(res.headers.get('x-ratelimit-reset')).toBeNull();
  });

  it('answers a share of items 429/5xx inside a 200 answer the first time only, billing none of them', async () => {
    const server = await emulator({ itemFaultShare: 0.5, itemFaultStatus: 429 });
    const websites = Array.from({ length: 40 }, (_, i) => `fault-${i}.com`);

    const first = (await bulk(server, requestsFor(websites))).body as { status: number }[];
    const again = (await bulk(server, requestsFor(websites))).body as { status: number }[];

    const faulted = first.filter((item) => item.status === 429).length;
    expect(faulted).toBeGreaterThan(10);
    expect(faulted).toBeLessThan(30);
    expect(again.some((item) => item.status === 429)).toBe(false);
    const billed = [...first, ...again].filter((item) => item.status === 200).length;
    expect(server.counts().creditsSpent).toBe(billed);
  });

  it('can answer items reversed, without metadata, or with an empty (billed) record', async () => {
    const websites = ['stripe.com', 'nomatch-r.com', 'apple.com'];
    const withMetadata = {
      requests: websites.map((website) => ({ params: { website }, metadata: { website } })),
    };

    const reversed = (await bulk(await emulator({ itemOrder: 'reversed' }), withMetadata)).body;
    const bare = (await bulk(await emulator({ itemMetadata: 'omitted' }), withMetadata)).body;
    const emptyServer = await emulator({ emptyRecordShare: 1 });
    const empty = (await bulk(emptyServer, withMetadata)).body;

    expect(reversed).toMatchObject([
      { status: 200, display_name: 'Apple', metadata: { website: 'apple.com' } },
      { status: 404, metadata: { website: 'nomatch-r.com' } },
      { status: 200, display_name: 'Stripe', metadata: { website: 'stripe.com' } },
    ]);
    expect((bare as object[]).map((item) => 'metadata' in item)).toEqual([false, false, false]);
    expect(empty).toEqual([
      { status: 200, likelihood: expect.any(Number), metadata: { website: 'stripe.com' } },
      expect.objectContaining({ status: 404 }),
      { status: 200, likelihood: expect.any(Number), metadata: { website: 'apple.com' } },
    ]);
    expect(emptyServer.counts().creditsSpent).toBe(2);
  });
});

describe('synthetic data', () => {
  it('is the same for a domain on every call, and misses some domains', () => {
    expect(lookupPdlWebsite('https://www.acme-widgets.com/about')).toEqual(
      lookupPdlWebsite('acme-widgets.com'),
    );
    const lookups = Array.from({ length: 500 }, (_, i) => lookupPdlWebsite(`spread-${i}.com`));
    const misses = lookups.filter((l) => l.kind === 'not_found').length;
    expect(misses).toBeGreaterThan(20);
    expect(misses).toBeLessThan(100);
    const likelihoods = new Set(lookups.flatMap((l) => (l.kind === 'match' ? [l.likelihood] : [])));
    expect(Math.min(...likelihoods)).toBe(2);
    expect(Math.max(...likelihoods)).toBe(10);
  });
});
