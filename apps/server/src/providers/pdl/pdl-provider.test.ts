/** The PDL provider over its client and the emulator on loopback: what the batcher is handed. */
import { describe, expect, it } from 'vitest';
import { pdlEmulators } from '../../../test/pdl-emulators';
import { type Firmographics, type ItemError, isItemError, isProviderError } from '../provider';
import { lookupPdlWebsite } from '../sandbox/pdl-data';
import { createPdlClient } from './pdl-client';
import { createPdlProvider, PdlItemNotAnswered } from './pdl-provider';

const API_KEY = 'pdl-provider-key';
const emulator = pdlEmulators(API_KEY);

function provider(baseUrl: string) {
  return createPdlProvider(
    createPdlClient({
      baseUrl,
      apiKey: API_KEY,
      name: 'emulator',
      timeoutMs: 5_000,
      minLikelihood: null,
      logger: { warn: () => {} },
    }),
  );
}

function firmographics(value: Firmographics | ItemError | null | undefined): Firmographics {
  if (value === null || value === undefined || isItemError(value)) {
    throw new Error(`expected firmographics, got ${JSON.stringify(value)}`);
  }
  return value;
}

describe('PDL provider', () => {
  it("sets every matched record's confidence from PDL's likelihood (likelihood / 10)", async () => {
    const server = await emulator();
    const domains = Array.from({ length: 60 }, (_, i) => `confidence-${i}.com`);

    const rows = await provider(server.url).enrichFirmographics(domains);

    let matched = 0;
    for (const domain of domains) {
      const lookup = lookupPdlWebsite(domain);
      if (lookup.kind !== 'match') {
        expect(rows.has(domain)).toBe(false);
        continue;
      }
      matched += 1;
      expect(firmographics(rows.get(domain)).matchConfidence).toBe(lookup.likelihood / 10);
    }
    // The synthetic data holds weak and strong matches alike: the confidence is not one constant.
    const confidences = new Set(
      domains
        .map((d) => rows.get(d))
        .filter(Boolean)
        .map((r) => firmographics(r).matchConfidence),
    );
    expect(matched).toBeGreaterThan(40);
    expect(confidences.size).toBeGreaterThan(2);
  });

  it("hands an item PDL left unanswered to the batcher as that company's provider error, unbilled", async () => {
    const server = await emulator({ creditLimit: 1 });
    const rows = await provider(server.url).enrichFirmographics(['stripe.com', 'apple.com']);

    expect(firmographics(rows.get('stripe.com')).name).toBe('Stripe');
    const apple = rows.get('apple.com');
    // An ItemError (the batcher bills none) and an Error (the batcher fails this company alone with it).
    expect(isItemError(apple)).toBe(true);
    expect(apple).toBeInstanceOf(PdlItemNotAnswered);
    expect(isProviderError(apple) && apple.kind).toBe('quota');
    expect(server.counts().creditsSpent).toBe(1);
  });

  it.each([
    [429, 'rate_limited'],
    [503, 'transient'],
  ] as const)(
    'an item answered %d inside the call is %s for its company only',
    async (itemFaultStatus, kind) => {
      // A window of one call, spent by this one: a 429 item waits for its reset.
      const server = await emulator({ itemFaultShare: 1, itemFaultStatus, rateLimitPerMin: 1 });

      const rows = await provider(server.url).enrichFirmographics(['stripe.com']);

      const stripe = rows.get('stripe.com');
      expect(isProviderError(stripe) && [stripe.kind, stripe.status]).toEqual([kind, itemFaultStatus]);
      const wait = isProviderError(stripe) ? stripe.retryAfterMs : undefined;
      if (kind === 'rate_limited') expect(wait).toBeGreaterThan(55_000);
      else expect(wait).toBeNull();
    },
  );
});
