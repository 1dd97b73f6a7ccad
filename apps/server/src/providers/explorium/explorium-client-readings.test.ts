/**
 * The client against the sandbox under each reading of Explorium's reference that differs from
 * the default one (docs/providers/explorium-api.md, "Readings that differ").
 */
import { describe, expect, it } from 'vitest';
import { sandboxServers } from '../../../test/sandbox-servers';
import { createExploriumClient, type ExploriumCallInfo } from './explorium-client';

const API_KEY = 'test-key';
const UNKNOWN_ID = '0'.repeat(32);
const sandbox = sandboxServers(API_KEY);

function client(baseUrl: string) {
  const calls: ExploriumCallInfo[] = [];
  const warnings: string[] = [];
  const provider = createExploriumClient({
    baseUrl,
    apiKey: API_KEY,
    name: 'sandbox',
    timeoutMs: 5_000,
    logger: { warn: (_obj, msg) => warnings.push(msg) },
    onCall: (info) => calls.push(info),
  });
  return { provider, calls, warnings };
}

describe('answers without their optional lists', () => {
  it('a match answer without matched_businesses is a miss for every domain, not a failure', async () => {
    const server = await sandbox({ omitEmptyLists: true });
    const { provider, calls, warnings } = client(server.url);

    const results = await provider.matchBusinesses(['nomatch-acme.com', 'nomatch-globex.com']);

    expect(results).toEqual([
      { domain: 'nomatch-acme.com', businessId: null },
      { domain: 'nomatch-globex.com', businessId: null },
    ]);
    expect(calls.map((c) => c.status)).toEqual([200]);
    expect(warnings).toEqual([]);
  });

  it('a bulk_enrich answer without data knows nothing of any id, and is not a failure', async () => {
    const server = await sandbox({ omitEmptyLists: true });
    const { provider, warnings } = client(server.url);

    const rows = await provider.enrichFirmographics([UNKNOWN_ID]);

    expect(rows.size).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('still matches and enriches whatever the answers do carry, per-item errors included', async () => {
    const server = await sandbox({ omitEmptyLists: true });
    const { provider } = client(server.url);

    const [bad, miss, hit] = await provider.matchBusinesses([
      'not a domain',
      'nomatch-acme.com',
      'stripe.com',
    ]);
    expect(bad).toMatchObject({ businessId: null, error: { type: 'invalid_domain' } });
    expect(miss).toEqual({ domain: 'nomatch-acme.com', businessId: null });
    expect(hit?.businessId).toMatch(/^[0-9a-f]{32}$/);

    const rows = await provider.enrichFirmographics([hit!.businessId!, UNKNOWN_ID]);
    expect(rows.get(hit!.businessId!)).toMatchObject({ name: 'Stripe' });
    expect(rows.has(UNKNOWN_ID)).toBe(false);
  });
});

describe('a limit counted in records', () => {
  it('reads what each call spent from the headers', async () => {
    const server = await sandbox({ rateLimitPerMin: 100, rateLimitUnit: 'record' });
    const { provider, calls } = client(server.url);

    await provider.matchBusinesses(Array.from({ length: 40 }, (_, i) => `records-${i}.com`));
    await provider.enrichFirmographics([UNKNOWN_ID]);

    expect(calls.map((c) => [c.items, c.rateLimit?.remaining])).toEqual([
      [40, 60],
      [1, 59],
    ]);
  });

  it('a call over what is left is a rate_limited error with the wait until it fits', async () => {
    const server = await sandbox({ rateLimitPerMin: 30, rateLimitUnit: 'record' });
    const { provider } = client(server.url);

    await provider.matchBusinesses(Array.from({ length: 20 }, (_, i) => `left-${i}.com`));
    const err = await provider
      .matchBusinesses(Array.from({ length: 20 }, (_, i) => `over-${i}.com`))
      .catch((e: unknown) => e);

    expect(err).toMatchObject({ kind: 'rate_limited', status: 429 });
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(55_000);
  });
});
