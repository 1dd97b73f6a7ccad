/** The sandbox spoken to directly over HTTP, the way any Explorium (or PDL) client would. */
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sandboxServers } from '../../../test/sandbox-servers';
import { lookupDomain, singleEnrichShape } from './sandbox-data';
import { type SandboxServer, type SandboxStats, startSandboxServer } from './sandbox-server';

const API_KEY = 'test-key';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sandbox = sandboxServers(API_KEY);

async function post(
  server: SandboxServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = { api_key: API_KEY },
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, headers: res.headers, body: json };
}

const MATCH = '/v1/businesses/match';
const ENRICH = '/v1/businesses/firmographics/enrich';
const BULK = '/v1/businesses/firmographics/bulk_enrich';

async function matchIds(server: SandboxServer, domains: string[]): Promise<string[]> {
  const res = await post(server, MATCH, {
    request_context: null,
    businesses_to_match: domains.map((domain) => ({ domain })),
  });
  const items = res.body.matched_businesses;
  if (!Array.isArray(items)) throw new Error('no matched_businesses');
  return items.map((item: { business_id: string }) => item.business_id);
}

describe('validation', () => {
  it('answers 400 to a body that is not JSON', async () => {
    const server = await sandbox();
    const res = await post(server, MATCH, '{"businesses_to_match": [');
    expect(res.status).toBe(400);
    expect(res.body.details).toMatch(/not valid JSON/);
    expect(res.body.correlation_id).toMatch(UUID);
  });

  it('answers 422 with the documented body to an unknown top-level key', async () => {
    const server = await sandbox();
    const res = await post(server, MATCH, { businesses_to_match: [{ domain: 'stripe.com' }], page_size: 10 });
    expect(res.status).toBe(422);
    expect(res.body.detail).toEqual([
      { loc: ['body', 'page_size'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' },
    ]);
  });

  it('answers 422 to more than 50 items, to none, and to wrong types', async () => {
    const server = await sandbox();
    const ids = Array.from({ length: 51 }, (_, i) => i.toString(16).padStart(32, '0'));

    const tooMany = await post(server, BULK, { business_ids: ids });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.detail).toEqual([
      {
        loc: ['body', 'business_ids'],
        msg: 'List should have at most 50 items after validation, not 51',
        type: 'too_long',
      },
    ]);

    const none = await post(server, MATCH, { request_context: null, businesses_to_match: [] });
    expect(none.status).toBe(422);
    expect(none.body.detail).toMatchObject([{ type: 'too_short' }]);

    const wrongType = await post(server, MATCH, { businesses_to_match: [{ domain: 42 }] });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.detail).toMatchObject([
      { loc: ['body', 'businesses_to_match', 0, 'domain'], type: 'string_type' },
    ]);

    const missing = await post(server, ENRICH, {});
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toMatchObject([{ loc: ['body', 'business_id'], type: 'missing' }]);
    expect(server.stats().items).toEqual({ match: 0, enrich: 0, bulk_enrich: 0 });
  });

  it('answers 401 to a missing or wrong key, and still sends rate-limit headers', async () => {
    const server = await sandbox();
    const body = { businesses_to_match: [{ domain: 'stripe.com' }] };
    const missing = await post(server, MATCH, body, {});
    const wrong = await post(server, MATCH, body, { api_key: 'nope' });
    expect([missing.status, wrong.status]).toEqual([401, 401]);
    expect(missing.headers.get('x-ratelimit-limit')).not.toBeNull();
  });

  it('accepts any key when none is configured, but never a missing one', async () => {
    const server = await sandbox({ apiKey: undefined });
    const body = { businesses_to_match: [{ domain: 'stripe.com' }] };
    expect((await post(server, MATCH, body, { api_key: 'anything' })).status).toBe(200);
    expect((await post(server, MATCH, body, {})).status).toBe(401);
  });
});

describe('responses', () => {
  it('carries response_context and rate-limit headers, with a generous limit when none is set', async () => {
    const server = await sandbox();
    const res = await post(server, MATCH, {
      request_context: null,
      businesses_to_match: [{ domain: 'stripe.com' }],
    });
    expect(res.status).toBe(200);
    expect(res.body.response_context).toMatchObject({
      correlation_id: expect.stringMatching(UUID),
      request_status: 'success',
    });
    expect(res.body).toMatchObject({ total_results: 1, total_matches: 1 });
    expect(Number(res.headers.get('x-ratelimit-limit'))).toBeGreaterThanOrEqual(1_000);
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBe(
      Number(res.headers.get('x-ratelimit-limit')) - 1,
    );
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
  });

  it('says "miss" when nothing matched', async () => {
    const server = await sandbox();
    const res = await post(server, MATCH, {
      businesses_to_match: [{ domain: 'nothing-here.invalid' }, { domain: 'a.example' }],
    });
    expect(res.body).toMatchObject({ total_matches: 0, response_context: { request_status: 'miss' } });
  });

  it('matches built-in companies by name', async () => {
    const server = await sandbox();
    const byName = await post(server, MATCH, {
      businesses_to_match: [{ name: 'Stripe' }, { name: 'Unheard Of Ltd' }],
    });
    const [stripeId] = await matchIds(server, ['stripe.com']);
    expect(byName.body.matched_businesses).toEqual([
      { input: { name: 'Stripe' }, business_id: stripeId },
      { input: { name: 'Unheard Of Ltd' }, business_id: null },
    ]);
  });

  it('single enrich answers data as an object for some ids and as a one-element array for others', async () => {
    const server = await sandbox();
    const domains = ['stripe.com', 'apple.com', 'google.com', 'microsoft.com', 'netflix.com', 'nvidia.com'];
    const ids = await matchIds(server, domains);
    const shapes = new Set<string>();
    for (const id of ids) {
      const res = await post(server, ENRICH, { business_id: id });
      expect(res.status).toBe(200);
      const shape = singleEnrichShape(id);
      shapes.add(shape);
      if (shape === 'object') expect(res.body.data).toMatchObject({ business_id: id });
      else expect(res.body.data).toEqual([expect.objectContaining({ business_id: id })]);
    }
    expect(shapes).toEqual(new Set(['object', 'array']));
  });

  it('bulk enrich answers with a row per known id, and leaves unknown ids out', async () => {
    const server = await sandbox();
    const [stripeId] = await matchIds(server, ['stripe.com']);
    const unknown = 'f'.repeat(32);
    const res = await post(server, BULK, { business_ids: [unknown, stripeId] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      total_results: 1,
      data: [{ business_id: stripeId, data: { name: 'Stripe', country_name: 'united states' } }],
    });
  });

  it('answers 429 with Retry-After and retry_after once the per-key window is full', async () => {
    const server = await sandbox({ rateLimitPerMin: 2 });
    const body = { businesses_to_match: [{ domain: 'stripe.com' }] };
    expect((await post(server, MATCH, body)).status).toBe(200);
    expect((await post(server, MATCH, body)).status).toBe(200);

    const limited = await post(server, MATCH, body);

    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body).toMatchObject({ error: 'rate_limit_exceeded', retry_after: retryAfter });
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('limits keys independently', async () => {
    const server = await sandbox({ apiKey: undefined, rateLimitPerMin: 1 });
    const body = { businesses_to_match: [{ domain: 'stripe.com' }] };
    expect((await post(server, MATCH, body, { api_key: 'one' })).status).toBe(200);
    expect((await post(server, MATCH, body, { api_key: 'one' })).status).toBe(429);
    expect((await post(server, MATCH, body, { api_key: 'two' })).status).toBe(200);
  });

  it('answers 403 with the insufficient-credits body past the credit limit', async () => {
    const server = await sandbox({ creditLimit: 2 });
    const ids = await matchIds(server, ['stripe.com', 'apple.com', 'google.com']);
    expect((await post(server, BULK, { business_ids: ids.slice(0, 2) })).status).toBe(200);

    const refused = await post(server, ENRICH, { business_id: ids[2] });

    expect(refused.status).toBe(403);
    expect(refused.body.details).toMatch(/^You have insufficient credits/);
    expect(refused.body.correlation_id).toMatch(UUID);
    expect(server.stats().creditsUsed).toBe(2);
  });

  it('answers 404 to unknown paths and 405 to other methods', async () => {
    const server = await sandbox();
    expect((await post(server, '/v1/businesses/nope', {})).status).toBe(404);
    const get = await fetch(`${server.url}${MATCH}`, { headers: { api_key: API_KEY } });
    expect(get.status).toBe(405);
    await get.body?.cancel();
  });
});

describe('stats', () => {
  it('counts calls, items, statuses, domains and ids, and resets', async () => {
    const server = await sandbox();
    const ids = await matchIds(server, ['Stripe.com', 'apple.com', 'nothing-here.invalid']);
    await post(server, BULK, { business_ids: ids.slice(0, 2) });
    await post(server, BULK, { business_ids: [ids[0]] });
    await post(server, MATCH, { nope: true });

    const stats = server.stats();
    expect(stats.calls).toEqual({ match: 2, enrich: 0, bulk_enrich: 2 });
    expect(stats.items).toEqual({ match: 3, enrich: 0, bulk_enrich: 3 });
    expect(stats.responses).toEqual({ '200': 3, '422': 1 });
    expect(stats.domainsMatched).toEqual({ 'stripe.com': 1, 'apple.com': 1, 'nothing-here.invalid': 1 });
    expect(stats.businessIdsEnriched).toEqual({ [ids[0] ?? '']: 2, [ids[1] ?? '']: 1 });

    const overHttp = (await (await fetch(`${server.url}/_sandbox/stats`)).json()) as SandboxStats;
    expect(overHttp).toEqual(stats);

    const reset = await fetch(`${server.url}/_sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(204);
    expect(server.stats()).toMatchObject({
      calls: { match: 0, bulk_enrich: 0 },
      responses: {},
      domainsMatched: {},
    });
  });

  it('counts every received call, including injected failures', async () => {
    const server = await sandbox({ errorRate: 0.5, random: sequence([0.1, 0.1, 0.9, 0.9, 0.2, 0.6]) });
    const body = { businesses_to_match: [{ domain: 'stripe.com' }] };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(server, MATCH, body)).status);
    // Rolls: 0.1 → fail, 0.1 → 500; 0.9 → ok; 0.9 → ok; 0.2 → fail, 0.6 → 503.
    expect(statuses).toEqual([500, 200, 200, 503]);
    expect(server.stats().calls.match).toBe(4);
    expect(server.stats().items.match).toBe(2);
  });
});

describe('readings that differ', () => {
  const domains = (n: number, prefix = 'r') =>
    Array.from({ length: n }, (_, i) => ({ domain: `${prefix}-${i}.com` }));

  it('counts records when told to: each item of a call spends one', async () => {
    const server = await sandbox({ rateLimitPerMin: 60, rateLimitUnit: 'record' });
    const first = await post(server, MATCH, { businesses_to_match: domains(50) });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit')).toBe('60');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('10');

    // 20 more would overfill the window: refused whole, counted not at all.
    const refused = await post(server, MATCH, { businesses_to_match: domains(20) });
    expect(refused.status).toBe(429);
    expect(refused.body.message).toContain('60 records per minute');
    // Room for 20 comes back only when the 50-record call leaves the window.
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(55);

    const last = await post(server, BULK, { business_ids: ['0'.repeat(32)] });
    expect(last.status).toBe(200);
    expect(last.headers.get('x-ratelimit-remaining')).toBe('9');
    // What the limit counted: the refused call not at all.
    expect(server.stats().counted).toMatchObject({ units: 51, lastUnits: 1, peakWindowUnits: 51 });
  });

  it('never admits a call of more records than the limit', async () => {
    const server = await sandbox({ rateLimitPerMin: 30, rateLimitUnit: 'record' });
    const res = await post(server, MATCH, { businesses_to_match: domains(31) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('60');
    expect((await post(server, MATCH, { businesses_to_match: domains(30) })).status).toBe(200);
  });

  it('counts a call once by default, whatever it carries', async () => {
    const server = await sandbox({ rateLimitPerMin: 2 });
    const res = await post(server, MATCH, { businesses_to_match: domains(50) });
    expect(res.headers.get('x-ratelimit-remaining')).toBe('1');
  });

  describe('X-RateLimit-Reset', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    // Only Date is faked: the HTTP round trips run on real timers.
    async function resetsAfterTwoCalls(rateLimitReset: 'oldest' | 'window'): Promise<number[]> {
      const server = await sandbox({ rateLimitPerMin: 10, rateLimitReset });
      vi.useFakeTimers({ toFake: ['Date'] });
      const t0 = 1_800_000_000_000;
      vi.setSystemTime(t0);
      const first = await post(server, MATCH, { businesses_to_match: domains(1) });
      vi.setSystemTime(t0 + 30_000);
      const second = await post(server, MATCH, { businesses_to_match: domains(1) });
      return [first, second].map((r) => Number(r.headers.get('x-ratelimit-reset')) - t0 / 1000);
    }

    it('says when the oldest counted call leaves the window, by default', async () => {
      expect(await resetsAfterTwoCalls('oldest')).toEqual([60, 60]);
    });

    it('says a full window from now when told to', async () => {
      expect(await resetsAfterTwoCalls('window')).toEqual([60, 90]);
    });
  });

  describe('empty lists left out (optional in the published schema)', () => {
    it('leaves out matched_businesses when nothing matched, and data when no row came back', async () => {
      const server = await sandbox({ omitEmptyLists: true });
      const miss = await post(server, MATCH, { businesses_to_match: [{ domain: 'nomatch-acme.com' }] });
      expect(miss.status).toBe(200);
      expect(miss.body).toMatchObject({ total_results: 1, total_matches: 0 });
      expect(miss.body).not.toHaveProperty('matched_businesses');

      const none = await post(server, BULK, { business_ids: ['0'.repeat(32)] });
      expect(none.status).toBe(200);
      expect(none.body).toMatchObject({ total_results: 0 });
      expect(none.body).not.toHaveProperty('data');
    });

    it('keeps the lists that carry something: a match, a per-item error, a row', async () => {
      const server = await sandbox({ omitEmptyLists: true });
      const hit = await post(server, MATCH, {
        businesses_to_match: [{ domain: 'stripe.com' }, { domain: 'nomatch-acme.com' }],
      });
      expect(hit.body.matched_businesses).toHaveLength(2);
      const error = await post(server, MATCH, { businesses_to_match: [{ name: null }] });
      expect(error.body.matched_businesses).toMatchObject([{ error_type: 'missing_identifier' }]);
      const [id] = await matchIds(server, ['stripe.com']);
      const row = await post(server, BULK, { business_ids: [id] });
      expect(row.body.data).toHaveLength(1);
    });
  });
});

describe('HTTP as the emulator answers it, whatever the server underneath', () => {
  const body = JSON.stringify({ businesses_to_match: [{ domain: 'stripe.com' }] });

  it('reads any body as JSON, whatever content type it declares or without one', async () => {
    const server = await sandbox();
    for (const contentType of ['application/json; charset=utf-8', 'text/plain', 'json', '', null]) {
      const headers: Record<string, string> = { api_key: API_KEY };
      if (contentType !== null) headers['content-type'] = contentType;
      const res = await fetch(`${server.url}${MATCH}`, { method: 'POST', headers, body });
      expect([contentType, res.status]).toEqual([contentType, 200]);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.json()).toMatchObject({ total_matches: 1 });
    }
    const reset = await fetch(`${server.url}/_sandbox/reset`, {
      method: 'POST',
      headers: { 'content-type': 'bogus' },
      body: '{',
    });
    expect(reset.status).toBe(204);
  });

  it('answers an empty body 400 and one over 1 MB 413, with Explorium’s error body', async () => {
    const server = await sandbox();
    const empty = await post(server, MATCH, '');
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ details: expect.stringMatching(/not valid JSON/) });

    const large = await post(server, MATCH, JSON.stringify({ padding: 'x'.repeat(1024 * 1024) }));
    expect(large.status).toBe(413);
    expect(large.body).toMatchObject({
      details: 'Request body too large',
      correlation_id: expect.stringMatching(UUID),
      response_context: { request_status: 'failure' },
    });
    expect(large.headers.get('x-ratelimit-limit')).not.toBeNull();
    // The key is checked before the body: a wrong one is 401 whatever the body.
    const wrongKey = await post(server, MATCH, 'x'.repeat(2 * 1024 * 1024), { api_key: 'nope' });
    expect(wrongKey.status).toBe(401);
  });

  it('answers every other method on an API path 405 with Allow: POST, HEAD and OPTIONS included', async () => {
    const server = await sandbox();
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(`${server.url}${BULK}`, {
        method,
        headers: { api_key: API_KEY, 'content-type': 'bogus' },
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{' }),
      });
      expect([method, res.status, res.headers.get('allow')]).toEqual([method, 405, 'POST']);
      expect(res.headers.get('x-ratelimit-remaining')).not.toBeNull();
      if (method !== 'HEAD') expect(await res.json()).toMatchObject({ detail: 'Method Not Allowed' });
      else await res.body?.cancel();
    }
    expect(server.stats().calls.bulk_enrich).toBe(0);
  });

  it('answers paths it does not serve 404 in Explorium’s shape, whatever the method or body', async () => {
    const server = await sandbox();
    const answers = [
      await fetch(`${server.url}/`, { method: 'OPTIONS' }),
      await fetch(`${server.url}/_sandbox/stats`, { method: 'HEAD' }),
      await fetch(`${server.url}/_sandbox/stats`, { method: 'POST' }),
      await fetch(`${server.url}/nope`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{',
      }),
      await fetch(`${server.url}/nope`, { method: 'POST', headers: { 'content-type': 'bogus' }, body: 'x' }),
      await fetch(`${server.url}/v1/businesses/%zz`),
      await fetch(`${server.url}${MATCH}/`, { method: 'POST', headers: { api_key: API_KEY }, body }),
    ];
    for (const res of answers) {
      expect([res.url, res.status]).toEqual([res.url, 404]);
      expect(res.headers.get('x-ratelimit-limit')).not.toBeNull();
      if (res.headers.get('content-length') !== '0' && res.status === 404) {
        const text = await res.text();
        if (text !== '')
          expect(JSON.parse(text)).toMatchObject({ detail: 'Not Found', response_context: {} });
      }
    }
  });

  it('answers a malformed request as node:http does: a bare 400, then close', async () => {
    const server = await sandbox();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write('GET / HTTP/1.1\r\nHost x\r\n\r\n');
    });
    expect(answer).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  it('waits latencyMs on the server before answering, and says so in time_took_in_seconds', async () => {
    const server = await sandbox({ latencyMs: 300 });
    const startedAt = performance.now();
    const res = await post(server, MATCH, body);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(295);
    expect(res.status).toBe(200);
    const context = res.body.response_context as { time_took_in_seconds: number };
    expect(context.time_took_in_seconds).toBeGreaterThanOrEqual(0.295);
    expect(context.time_took_in_seconds).toBeLessThan(5);
  });
});

describe('People Data Labs on the same server', () => {
  const enrichUrl = (server: SandboxServer, website: string) =>
    `${server.url}/v5/company/enrich?${new URLSearchParams({ website })}`;

  it('serves PDL’s routes beside Explorium’s, with the sandbox’s key by default, counted apart', async () => {
    const server = await sandbox();
    const pdl = await fetch(enrichUrl(server, 'stripe.com'), { headers: { 'x-api-key': API_KEY } });
    expect(pdl.status).toBe(200);
    expect(await pdl.json()).toMatchObject({ status: 200, display_name: 'Stripe' });
    const wrongKey = await fetch(enrichUrl(server, 'stripe.com'), { headers: { 'x-api-key': 'nope' } });
    expect(wrongKey.status).toBe(401);
    await matchIds(server, ['stripe.com']);

    expect(server.pdl.counts()).toMatchObject({ calls: { enrich: 2 }, creditsSpent: 1 });
    expect(await (await fetch(`${server.url}/_emulator/counts`)).json()).toEqual(server.pdl.counts());
    expect(server.stats().calls).toEqual({ match: 1, enrich: 0, bulk_enrich: 0 });
    server.pdl.reset();
    expect(server.pdl.counts().calls.enrich).toBe(0);
    expect(server.stats().calls.match).toBe(1);
  });

  it('passes its own options through, and answers its unknown paths in PDL’s shape', async () => {
    const server = await sandbox({ pdl: { apiKey: 'pdl-key', rateLimitPerMin: 1 }, rateLimitPerMin: 100 });
    const headers = { 'x-api-key': 'pdl-key' };
    expect((await fetch(enrichUrl(server, 'stripe.com'), { headers })).status).toBe(200);
    expect((await fetch(enrichUrl(server, 'stripe.com'), { headers })).status).toBe(429);
    expect((await post(server, MATCH, { businesses_to_match: [{ domain: 'stripe.com' }] })).status).toBe(200);

    const unknown = await fetch(`${server.url}/v5/person/enrich`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ status: 404, error: { type: 'invalid_request_error' } });
  });

  it('closes promptly with a PDL call in flight', async () => {
    const server = await startSandboxServer({ pdl: { latencyMs: 30_000 } });
    const pending = fetch(enrichUrl(server, 'stripe.com'), { headers: { 'x-api-key': 'k' } }).catch(
      (err: unknown) => err,
    );
    await vi.waitFor(() => expect(server.pdl.counts().calls.enrich).toBe(1));
    const startedAt = Date.now();

    await server.close();

    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('lifecycle', () => {
  it('closes promptly with a request in flight', async () => {
    const server = await startSandboxServer({ latencyMs: 30_000 });
    const pending = fetch(`${server.url}${MATCH}`, {
      method: 'POST',
      headers: { api_key: 'k' },
      body: JSON.stringify({ businesses_to_match: [{ domain: 'stripe.com' }] }),
    }).catch((err: unknown) => err);
    await vi.waitFor(() => expect(server.stats().calls.match).toBe(1));
    const startedAt = Date.now();

    await server.close();

    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('rejects impossible options', async () => {
    await expect(startSandboxServer({ errorRate: 1.5 })).rejects.toThrow(RangeError);
    await expect(startSandboxServer({ latencyMs: -1 })).rejects.toThrow('latencyMs');
  });

  it('gives the same domain the same id across servers', async () => {
    const a = await sandbox();
    const b = await sandbox();
    const [fromA] = await matchIds(a, ['some-startup.io']);
    const [fromB] = await matchIds(b, ['some-startup.io']);
    expect(fromA).toBe(fromB);
    const found = lookupDomain('some-startup.io');
    expect(found.kind === 'match' ? found.business.businessId : null).toBe(fromA);
  });
});

function sequence(values: number[]): () => number {
  let index = 0;
  return () => {
    const value = values[index % values.length];
    index += 1;
    return value ?? 0;
  };
}
