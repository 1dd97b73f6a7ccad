/**
 * The PDL client against the emulator as a real HTTP server on 127.0.0.1:0. Answers the emulator
 * never sends (broken bodies, items out of order) come from a fake fetch instead.
 */
import { describe, expect, it, vi } from 'vitest';
import { pdlEmulators } from '../../../test/pdl-emulators';
import { isItemError, isProviderError, type ProviderError } from '../provider';
import { lookupPdlWebsite } from '../sandbox/pdl-data';
import { createPdlClient, type PdlCallInfo, type PdlClientOptions, type PdlResult } from './pdl-client';

const API_KEY = 'pdl-test-key';
const emulator = pdlEmulators(API_KEY);

function client(baseUrl: string, overrides: Partial<PdlClientOptions> = {}) {
  const warnings: { obj: object; msg: string }[] = [];
  const calls: PdlCallInfo[] = [];
  const pdl = createPdlClient({
    baseUrl,
    apiKey: API_KEY,
    name: 'emulator',
    timeoutMs: 5_000,
    minLikelihood: null,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    onCall: (info) => calls.push(info),
    ...overrides,
  });
  return { pdl, warnings, calls };
}

async function providerError(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isProviderError(err)) throw new Error(`expected a ProviderError, got ${String(err)}`);
  return err;
}

/** Synthetic domains the emulator matches with a likelihood `predicate` accepts (deterministic). */
function domainsWhere(prefix: string, count: number, predicate: (likelihood: number) => boolean): string[] {
  const found: string[] = [];
  for (let i = 0; i < 10_000 && found.length < count; i++) {
    const domain = `${prefix}-${i}.com`;
    const lookup = lookupPdlWebsite(domain);
    if (lookup.kind === 'match' && predicate(lookup.likelihood)) found.push(domain);
  }
  if (found.length < count) throw new Error(`not enough synthetic domains with prefix ${prefix}`);
  return found;
}

function fakeFetch(respond: () => Response) {
  const requests: { url: string; init: RequestInit | undefined }[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    requests.push({ url: String(input), init });
    return respond();
  };
  return { fetchImpl, requests };
}

const matched = (results: PdlResult[]) => results.filter((r) => r.status === 'matched').length;

describe('enrichCompanies', () => {
  it('answers each domain in order: matches with firmographics, misses, per-item errors', async () => {
    const server = await emulator();
    const { pdl } = client(server.url);
    const domains = ['stripe.com', 'nomatch-acme.com', 'not a domain', 'www.apple.com', 'stripe.com'];

    const results = await pdl.enrichCompanies(domains);

    expect(results.map((r) => r.domain)).toEqual(domains);
    expect(results[0]).toMatchObject({
      status: 'matched',
      pdlId: expect.stringMatching(/^[A-Za-z0-9]{28}$/),
      firmographics: {
        name: 'Stripe',
        country: 'united states',
        website: 'https://stripe.com',
        linkedinUrl: expect.stringMatching(/^https:\/\/linkedin\.com\/company\//),
        revenueRange: expect.stringMatching(/^[0-9]/),
      },
      extra: { employeeCount: expect.any(Number), foundedYear: expect.any(Number) },
    });
    if (results[0]?.status !== 'matched') throw new Error('stripe.com should match');
    expect(results[0].likelihood).toBeGreaterThanOrEqual(8);
    expect(results[1]).toEqual({ domain: 'nomatch-acme.com', status: 'not_found' });
    expect(results[2]).toMatchObject({ status: 'error', error: { type: 'invalid_request_error' } });
    expect(isItemError(results[2])).toBe(true);
    expect(results[3]).toMatchObject({
      status: 'matched',
      firmographics: { name: 'Apple', city: 'cupertino' },
    });
    expect(results[4]).toEqual(results[0]);
    // The duplicate was sent once.
    expect(server.counts().items.sent).toBe(4);
  });

  it('sends the documented request', async () => {
    const { fetchImpl, requests } = fakeFetch(() =>
      Response.json([{ status: 404, metadata: { domain: 'a.com' } }]),
    );
    const { pdl } = client('https://api.example.test/', { fetchImpl, minLikelihood: 6 });

    await pdl.enrichCompanies(['a.com']);

    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('https://api.example.test/v5/company/enrich/bulk');
    expect(requests[0]?.init?.method).toBe('POST');
    expect(new Headers(requests[0]?.init?.headers).get('x-api-key')).toBe(API_KEY);
    expect(JSON.parse(String(requests[0]?.init?.body))).toEqual({
      requests: [{ params: { website: 'a.com', min_likelihood: 6 }, metadata: { domain: 'a.com' } }],
    });
  });

  it('sends at most 100 domains a call, one call after another', async () => {
    const server = await emulator();
    const { pdl, calls } = client(server.url);
    const domains = Array.from({ length: 250 }, (_, i) => `batch-${i}.com`);

    const results = await pdl.enrichCompanies(domains);

    expect(results.map((r) => r.domain)).toEqual(domains);
    expect(calls.map((c) => c.items)).toEqual([100, 100, 50]);
    expect(server.counts().calls.bulk).toBe(3);
    expect(server.counts().items.sent).toBe(250);
  });

  it('a later call failing fails the whole list, and the ledger still sees what the first billed', async () => {
    const server = await emulator({ rateLimitPerMin: 1 });
    const { pdl, calls } = client(server.url);
    const domains = Array.from({ length: 150 }, (_, i) => `later-${i}.com`);

    const err = await providerError(pdl.enrichCompanies(domains));

    expect(err.kind).toBe('rate_limited');
    expect(calls.map((c) => [c.items, c.status])).toEqual([
      [100, 200],
      [50, 429],
    ]);
    expect(calls[0]?.creditsBilled).toBe(server.counts().creditsSpent);
  });

  it('makes no call for no domains', async () => {
    const server = await emulator();
    const { pdl, calls } = client(server.url);

    expect(await pdl.enrichCompanies([])).toEqual([]);
    expect(calls).toHaveLength(0);
    expect(server.counts().calls.bulk).toBe(0);
  });
});

describe('credits', () => {
  it('bills one credit per match, none per 404, as the emulator counts and says', async () => {
    const server = await emulator();
    const { pdl, calls } = client(server.url);
    const domains = [
      ...Array.from({ length: 40 }, (_, i) => `billing-${i}.com`),
      'nomatch-one.com',
      'pdl-nomatch-two.com',
      'three.invalid',
    ];

    const results = await pdl.enrichCompanies(domains);

    const matches = matched(results);
    expect(matches).toBeGreaterThan(20);
    expect(results.filter((r) => r.status === 'not_found').length).toBe(domains.length - matches);
    expect(calls[0]).toMatchObject({
      status: 200,
      items: 43,
      creditsBilled: matches,
      creditsReported: matches,
    });
    expect(server.counts().creditsSpent).toBe(matches);
    expect(server.counts().items.notFound).toBe(domains.length - matches);
  });

  it('min_likelihood turns weaker matches into unbilled 404s', async () => {
    const weak = domainsWhere('weak', 5, (l) => l < 6);
    const strong = domainsWhere('strong', 5, (l) => l >= 6);
    const server = await emulator();
    const { pdl, calls } = client(server.url, { minLikelihood: 6 });

    const results = await pdl.enrichCompanies([...weak, ...strong]);

    expect(results.slice(0, 5).map((r) => r.status)).toEqual(Array(5).fill('not_found'));
    expect(results.slice(5).map((r) => r.status)).toEqual(Array(5).fill('matched'));
    for (const result of results.slice(5)) {
      if (result.status === 'matched') expect(result.likelihood).toBeGreaterThanOrEqual(6);
    }
    expect(calls[0]?.creditsBilled).toBe(5);
    expect(server.counts().creditsSpent).toBe(5);
  });

  it('without min_likelihood the same weak domains match and bill', async () => {
    const weak = domainsWhere('weak', 5, (l) => l < 6);
    const server = await emulator();
    const { pdl } = client(server.url);

    const results = await pdl.enrichCompanies(weak);

    expect(matched(results)).toBe(5);
    expect(server.counts().creditsSpent).toBe(5);
  });

  it('reports the credits left on the account', async () => {
    const server = await emulator({ creditLimit: 50 });
    const { pdl, calls } = client(server.url);

    const results = await pdl.enrichCompanies(['stripe.com', 'apple.com', 'nomatch-x.com']);

    expect(matched(results)).toBe(2);
    expect(calls[0]).toMatchObject({ creditsBilled: 2, creditsRemaining: 48 });
  });
});

describe('errors', () => {
  it('429 is rate_limited, waiting until the window resets', async () => {
    const server = await emulator({ rateLimitPerMin: 1 });
    const { pdl, calls } = client(server.url);
    await pdl.enrichCompanies(['stripe.com']);

    const err = await providerError(pdl.enrichCompanies(['apple.com']));

    expect(err).toMatchObject({ kind: 'rate_limited', status: 429, reachedProvider: true });
    expect(err.retryAfterMs).toBeGreaterThan(55_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(61_000);
    expect(err.message).toMatch(/retry in \d+ s/);
    expect(calls[1]).toMatchObject({ status: 429, creditsBilled: 0, rateLimit: { limit: 1, remaining: 0 } });
    expect(server.counts().creditsSpent).toBe(1);
  });

  it.each(['iso', 'epoch_seconds', 'seconds_from_now'] as const)(
    'reads x-ratelimit-reset written as %s',
    async (rateLimitResetFormat) => {
      const server = await emulator({ rateLimitPerMin: 1, rateLimitResetFormat });
      const { pdl } = client(server.url);
      await pdl.enrichCompanies(['stripe.com']);

      const err = await providerError(pdl.enrichCompanies(['apple.com']));

      expect(err.kind).toBe('rate_limited');
      expect(err.retryAfterMs).toBeGreaterThan(55_000);
      expect(err.retryAfterMs).toBeLessThanOrEqual(61_000);
    },
  );

  it('prefers Retry-After when the 429 carries one', async () => {
    const { fetchImpl } = fakeFetch(
      () =>
        new Response(JSON.stringify({ status: 429, error: { type: 'rate_limit_error', message: 'slow' } }), {
          status: 429,
          headers: { 'retry-after': '7', 'x-ratelimit-reset': '2099-01-01T00:00:00Z' },
        }),
    );
    const { pdl } = client('https://api.example.test', { fetchImpl });

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err.retryAfterMs).toBe(7_000);
  });

  it('a 429 without the rate-limit headers is rate_limited with no wait given, or Retry-After if sent', async () => {
    for (const retryAfterHeader of [false, true]) {
      const server = await emulator({ rateLimitPerMin: 1, rateLimitHeaders: false, retryAfterHeader });
      const { pdl, calls } = client(server.url);
      await pdl.enrichCompanies(['stripe.com']);

      const err = await providerError(pdl.enrichCompanies(['apple.com']));

      expect(err.kind).toBe('rate_limited');
      expect(calls[1]?.rateLimit).toBeNull();
      if (retryAfterHeader) {
        expect(err.retryAfterMs).toBeGreaterThan(55_000);
        expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
      } else {
        expect(err.retryAfterMs).toBeNull();
        expect(err.message).toContain('no reset time given');
      }
    }
  });

  it('a 429 without any reset time still is rate_limited, with no wait given', async () => {
    const { fetchImpl } = fakeFetch(() => new Response('{}', { status: 429 }));
    const { pdl } = client('https://api.example.test', { fetchImpl });

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err).toMatchObject({ kind: 'rate_limited', retryAfterMs: null });
  });

  it('402 is quota, and the refused call billed nothing', async () => {
    const server = await emulator({ creditLimit: 1 });
    const { pdl, calls } = client(server.url);
    await pdl.enrichCompanies(['stripe.com']);

    const err = await providerError(pdl.enrichCompanies(['apple.com']));

    expect(err).toMatchObject({ kind: 'quota', status: 402, reachedProvider: true });
    expect(err.message).toContain('out of credits');
    expect(calls[1]).toMatchObject({ status: 402, creditsBilled: 0 });
    expect(server.counts().creditsSpent).toBe(1);
  });

  it('credits running out inside a call: the matches that fit are kept, the rest are out of credits, not failed', async () => {
    const server = await emulator({ creditLimit: 2 });
    const { pdl, calls, warnings } = client(server.url);

    const results = await pdl.enrichCompanies(['stripe.com', 'apple.com', 'microsoft.com', 'nomatch-z.com']);

    expect(results.map((r) => r.status)).toEqual(['matched', 'matched', 'out_of_credits', 'not_found']);
    expect(results[2]).toMatchObject({ error: { type: 'payment_required' } });
    expect(results.some((r) => r.status === 'error')).toBe(false);
    expect(calls[0]?.creditsBilled).toBe(2);
    expect(server.counts().creditsSpent).toBe(2);
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringContaining('ran out of credits')]);

    // Credits bought: the same item is answered, and billed once.
    server.update({ creditLimit: 10 });
    const [again] = await pdl.enrichCompanies(['microsoft.com']);
    expect(again).toMatchObject({ status: 'matched', firmographics: { name: 'Microsoft' } });
    expect(server.counts().creditsSpent).toBe(3);
  });

  it('a call that arrives out of credits as a whole is quota, whichever reading', async () => {
    for (const creditsExhausted of ['per_item', 'whole_call'] as const) {
      const server = await emulator({ creditLimit: 0, creditsExhausted });
      const { pdl } = client(server.url);

      const err = await providerError(pdl.enrichCompanies(['stripe.com']));

      expect(err).toMatchObject({ kind: 'quota', status: 402 });
    }
  });

  it('credits running out inside a call, read as refusing the whole call: quota, nothing billed', async () => {
    const server = await emulator({ creditLimit: 2, creditsExhausted: 'whole_call' });
    const { pdl } = client(server.url);

    const err = await providerError(pdl.enrichCompanies(['stripe.com', 'apple.com', 'microsoft.com']));

    expect(err.kind).toBe('quota');
    expect(server.counts().creditsSpent).toBe(0);
  });

  it('403 (the key may not use company enrichment) is auth, nothing billed', async () => {
    const server = await emulator({ forbidden: true });
    const { pdl, calls } = client(server.url, { name: 'pdl' });

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err).toMatchObject({ kind: 'auth', status: 403 });
    expect(err.message).toContain('Check the plan of the key');
    expect(calls[0]).toMatchObject({ status: 403, creditsBilled: 0 });
    expect(server.counts().creditsSpent).toBe(0);
  });

  it('a wrong key is auth and says what to check', async () => {
    const server = await emulator();
    const { pdl } = client(server.url, { apiKey: 'wrong', name: 'pdl' });

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err).toMatchObject({ kind: 'auth', status: 401 });
    expect(err.message).toBe('People Data Labs rejected the API key (401): check PDL_API_KEY');
  });

  it.each([
    [0, 500],
    [0.5, 502],
    [0.9, 503],
  ])('a 5xx (roll %d) is transient with status %d', async (roll, status) => {
    const server = await emulator({ errorRate: 1, random: () => roll });
    const { pdl, calls } = client(server.url);

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err).toMatchObject({ kind: 'transient', status });
    expect(calls[0]?.creditsBilled).toBe(0);
    expect(server.counts().creditsSpent).toBe(0);
  });

  it('a call slower than timeoutMs is transient and may have reached PDL', async () => {
    const server = await emulator({ latencyMs: 2_000 });
    const { pdl, calls } = client(server.url, { timeoutMs: 100 });

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err.kind).toBe('transient');
    expect(err.message).toContain('within 100 ms');
    expect(err.reachedProvider).toBe(true);
    expect(calls[0]).toMatchObject({ status: null, creditsBilled: null });
  });

  it('an unreachable host is transient, and the call never reached PDL', async () => {
    const server = await emulator();
    const url = server.url;
    await server.close();
    const { pdl } = client(url);

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err.kind).toBe('transient');
    expect(err.reachedProvider).toBe(false);
    expect(err.message).toContain(`Could not reach The PDL emulator at ${url}`);
  });

  it("a caller's abort rethrows the caller's reason and is not logged", async () => {
    const server = await emulator({ latencyMs: 5_000 });
    const { pdl, warnings } = client(server.url);
    const controller = new AbortController();
    const reason = new Error('worker shutting down');

    const pending = pdl
      .enrichCompanies(['stripe.com'], { signal: controller.signal })
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.counts().calls.bulk).toBe(1));
    controller.abort(reason);

    expect(await pending).toBe(reason);
    expect(warnings).toHaveLength(0);
  });

  it('a wrong base URL is permanent and points at PDL_BASE_URL', async () => {
    const server = await emulator();
    const { pdl } = client(`${server.url}/nope`);

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err).toMatchObject({ kind: 'permanent', status: 404 });
    expect(err.message).toContain('check PDL_BASE_URL');
  });

  it.each([
    [200, 'not json', 'transient'],
    [200, '{"items": "nope"}', 'permanent'],
    [200, '[]', 'permanent'],
    [400, '{"status": 400, "error": {"type": "invalid_request_error", "message": "bad"}}', 'permanent'],
    [403, '{"status": 403, "error": {"type": "forbidden", "message": "no access"}}', 'auth'],
    [502, '<html>Bad gateway</html>', 'transient'],
  ] as const)('status %d with body %j is %s, logged once', async (status, body, kind) => {
    const { fetchImpl } = fakeFetch(() => new Response(body, { status }));
    const { pdl, warnings } = client('https://api.example.test', { fetchImpl });

    const err = await providerError(pdl.enrichCompanies(['stripe.com']));

    expect(err.kind).toBe(kind);
    expect(warnings).toHaveLength(1);
  });

  it('joins items answered out of order by their echoed metadata', async () => {
    const { fetchImpl } = fakeFetch(() =>
      Response.json([
        { status: 404, metadata: { domain: 'b.com' } },
        { status: 200, likelihood: 7, display_name: 'A Corp', metadata: { domain: 'a.com' } },
      ]),
    );
    const { pdl } = client('https://api.example.test', { fetchImpl });

    const [a, b] = await pdl.enrichCompanies(['a.com', 'b.com']);

    expect(a).toMatchObject({
      domain: 'a.com',
      status: 'matched',
      likelihood: 7,
      firmographics: { name: 'A Corp' },
    });
    expect(b).toEqual({ domain: 'b.com', status: 'not_found' });
  });
});

describe('items PDL could not answer inside an answered call', () => {
  it.each([429, 500, 502, 503] as const)(
    'an item answered %d is asked again, not failed, and billed nothing',
    async (itemFaultStatus) => {
      const server = await emulator({ itemFaultShare: 0.3, itemFaultStatus, rateLimitPerMin: 1000 });
      const { pdl, calls } = client(server.url);
      const domains = Array.from({ length: 60 }, (_, i) => `item-fault-${i}.com`);

      const first = await pdl.enrichCompanies(domains);

      const retry = first.filter((r) => r.status === 'retry');
      expect(retry.length).toBeGreaterThan(5);
      expect(retry.length).toBeLessThan(35);
      expect(retry.every((r) => r.status === 'retry' && r.itemStatus === itemFaultStatus)).toBe(true);
      expect(first.some((r) => r.status === 'error')).toBe(false);
      // The window has room: no item waits for its reset; the retry policy's backoff decides.
      for (const r of retry) if (r.status === 'retry') expect(r.retryAfterMs).toBeNull();
      expect(calls[0]?.creditsBilled).toBe(matched(first));
      expect(server.counts().creditsSpent).toBe(matched(first));

      const second = await pdl.enrichCompanies(retry.map((r) => r.domain));
      expect(second.every((r) => r.status === 'matched' || r.status === 'not_found')).toBe(true);
      expect(server.counts().creditsSpent).toBe(matched(first) + matched(second));
    },
  );

  it('an item answered 429 once the window is spent waits for its reset', async () => {
    const server = await emulator({ itemFaultShare: 1, itemFaultStatus: 429, rateLimitPerMin: 1 });
    const { pdl } = client(server.url);

    const [stripe] = await pdl.enrichCompanies(['stripe.com']);

    expect(stripe).toMatchObject({ status: 'retry', itemStatus: 429 });
    if (stripe?.status !== 'retry') throw new Error('stripe.com should be asked again');
    expect(stripe.retryAfterMs).toBeGreaterThan(55_000);
    expect(stripe.retryAfterMs).toBeLessThanOrEqual(61_000);
  });
});

describe('answers in another order or shape', () => {
  it.each([
    { itemOrder: 'reversed' },
    { itemMetadata: 'omitted' },
    { bulkItemShape: 'data', itemOrder: 'reversed' },
  ] as const)('ties each item to its company with %o', async (settings) => {
    const reference = await emulator();
    const server = await emulator(settings);
    const domains = [
      'stripe.com',
      'nomatch-q.com',
      'apple.com',
      ...Array.from({ length: 30 }, (_, i) => `order-${i}.com`),
    ];

    const expected = await client(reference.url).pdl.enrichCompanies(domains);
    const results = await client(server.url).pdl.enrichCompanies(domains);

    expect(results).toEqual(expected);
    expect(results[0]).toMatchObject({ domain: 'stripe.com', firmographics: { name: 'Stripe' } });
  });

  it('a 200 item with an empty record is a billed match that knows nothing but its confidence', async () => {
    const server = await emulator({ emptyRecordShare: 1 });
    const { pdl, calls } = client(server.url);

    const [stripe, miss] = await pdl.enrichCompanies(['stripe.com', 'nomatch-e.com']);

    expect(stripe).toMatchObject({
      status: 'matched',
      pdlId: null,
      firmographics: { name: null, website: null, matchConfidence: expect.any(Number) },
    });
    expect(miss?.status).toBe('not_found');
    expect(calls[0]?.creditsBilled).toBe(1);
    expect(server.counts().creditsSpent).toBe(1);
  });
});

describe('onCall readings', () => {
  it.each(['python_dict', 'json', 'number'] as const)(
    'reads the minute window from headers written as %s',
    async (windowHeaderStyle) => {
      const server = await emulator({ rateLimitPerMin: 5, windowHeaderStyle });
      const { pdl, calls } = client(server.url);
      const before = Date.now();

      await pdl.enrichCompanies(['stripe.com', 'apple.com']);
      await pdl.enrichCompanies(['microsoft.com']);

      expect(calls.map((c) => c.rateLimit?.remaining)).toEqual([4, 3]);
      expect(calls[0]?.rateLimit?.limit).toBe(5);
      const resetAtMs = calls[0]?.rateLimit?.resetAtMs ?? 0;
      expect(resetAtMs).toBeGreaterThanOrEqual(before + 59_000);
      expect(resetAtMs).toBeLessThanOrEqual(Date.now() + 61_000);
      expect(calls[0]?.durationMs).toBeGreaterThan(0);
    },
  );

  it('a limit counted in records spends one per item', async () => {
    const server = await emulator({ rateLimitPerMin: 30, rateLimitUnit: 'record' });
    const { pdl, calls } = client(server.url);

    await pdl.enrichCompanies(Array.from({ length: 20 }, (_, i) => `records-${i}.com`));
    const err = await providerError(
      pdl.enrichCompanies(Array.from({ length: 20 }, (_, i) => `over-${i}.com`)),
    );

    expect(calls[0]?.rateLimit?.remaining).toBe(10);
    expect(err.kind).toBe('rate_limited');
  });

  it('reads items whose record sits under data', async () => {
    const server = await emulator({ bulkItemShape: 'data' });
    const { pdl } = client(server.url);

    const [stripe] = await pdl.enrichCompanies(['stripe.com']);

    expect(stripe).toMatchObject({ status: 'matched', firmographics: { name: 'Stripe' } });
  });
});
