/** PDL bodies and headers → our types, for the forms the emulator does not send. */
import { describe, expect, it } from 'vitest';
import {
  matchConfidence,
  PdlCompanySchema,
  parseBulkResponse,
  readResetHeader,
  readWindowHeader,
  revenueRange,
  toExtra,
  toFirmographics,
} from './pdl-mapping';

describe('headers', () => {
  it('reads the minute window however the per-window header is written', () => {
    expect(readWindowHeader(`{"minute": 1200, "day": None, "month": None}`)).toBe(1200);
    expect(readWindowHeader(`{'minute': 7}`)).toBe(7);
    expect(readWindowHeader('42')).toBe(42);
    expect(readWindowHeader(`{"day": 10}`)).toBeNull();
    expect(readWindowHeader('')).toBeNull();
    expect(readWindowHeader(null)).toBeNull();
  });

  it('reads x-ratelimit-reset as a timestamp, unix seconds or milliseconds, or seconds from now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(readResetHeader('2026-01-01T00:00:42Z', now)).toBe(now + 42_000);
    expect(readResetHeader(String(now / 1000 + 30), now)).toBe(now + 30_000);
    expect(readResetHeader(String(now + 5_000), now)).toBe(now + 5_000);
    expect(readResetHeader('12', now)).toBe(now + 12_000);
    expect(readResetHeader('soon', now)).toBeNull();
  });
});

describe('records', () => {
  it('maps a record to firmographics in the form the other providers use', () => {
    const company = PdlCompanySchema.parse({
      name: 'acme',
      display_name: 'Acme',
      website: 'acme.com',
      size: '51-200',
      industry: 'computer software',
      summary: ' makes widgets ',
      location: { locality: 'berlin', region: 'berlin', country: 'germany' },
      linkedin_url: 'linkedin.com/company/acme',
      inferred_revenue: '$10M-$25M',
    });

    expect(toFirmographics(company)).toEqual({
      name: 'Acme',
      industry: 'computer software',
      companySize: '51-200',
      revenueRange: '10M-25M',
      country: 'germany',
      region: 'berlin',
      city: 'berlin',
      website: 'https://acme.com',
      linkedinUrl: 'https://linkedin.com/company/acme',
      description: 'makes widgets',
    });
  });

  it('turns fields of the wrong type into nothing instead of failing the record', () => {
    const company = PdlCompanySchema.parse({
      name: 42,
      employee_count: 'many',
      location: 'berlin',
      tags: ['b2b', 7, ''],
      naics: [{ naics_code: '511210', naics_industry: 'software publishers' }, 'junk'],
    });

    expect(toFirmographics(company)).toMatchObject({ name: null, city: null, revenueRange: 'Unknown' });
    expect(toExtra(company)).toMatchObject({
      employeeCount: null,
      tags: ['b2b'],
      naics: [{ code: '511210', industry: 'software publishers' }],
    });
  });

  it('keeps the revenue band PDL writes, without its dollar signs', () => {
    expect(revenueRange('$10B+')).toBe('10B+');
    expect(revenueRange(null)).toBe('Unknown');
  });
});

describe('bulk answers', () => {
  it("gives every match PDL's likelihood as its confidence, likelihood / 10", () => {
    const parsed = parseBulkResponse(
      [
        { status: 200, likelihood: 10, display_name: 'A' },
        { status: 200, likelihood: 3, data: { display_name: 'B' } },
        { status: 200, display_name: 'C' },
        { status: 404 },
      ],
      ['a.com', 'b.com', 'c.com', 'd.com'],
    );

    if (!parsed.ok) throw new Error(parsed.problem);
    const confidences = parsed.value.map((o) =>
      o.status === 'matched' ? o.firmographics.matchConfidence : 'none',
    );
    expect(confidences).toEqual([1, 0.3, null, 'none']);
  });

  it('reads no confidence from a likelihood PDL does not document', () => {
    expect([5, 1, 10, 0, 11, -2, Number.NaN, null, undefined].map(matchConfidence)).toEqual([
      0.5,
      0.1,
      1,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  it('refuses an answer it cannot tie to the requests', () => {
    expect(parseBulkResponse({ status: 200 }, ['a.com'])).toMatchObject({ ok: false });
    expect(parseBulkResponse([{ status: 404 }], ['a.com', 'b.com'])).toMatchObject({ ok: false });
    expect(parseBulkResponse([{ likelihood: 3 }], ['a.com'])).toMatchObject({ ok: false });
    expect(parseBulkResponse([{ status: 404, metadata: { domain: 'c.com' } }], ['a.com'])).toMatchObject({
      ok: false,
      problem: expect.stringContaining('a.com'),
    });
  });

  it('reads an item error, an item to ask again (429, 5xx) and an item out of credits (402)', () => {
    const parsed = parseBulkResponse(
      [
        { status: 400, error: { type: 'invalid_request_error', message: 'bad website' } },
        { status: 500 },
        { status: 429, error: { type: 'rate_limit_error', message: 'slow down' } },
        { status: 402, error: { type: 'payment_required', message: 'no credits' } },
        { status: 422 },
      ],
      ['a', 'b.com', 'c.com', 'd.com', 'e.com'],
    );

    expect(parsed).toEqual({
      ok: true,
      value: [
        { status: 'error', error: { type: 'invalid_request_error', message: 'bad website' } },
        {
          status: 'retry',
          itemStatus: 500,
          error: { type: 'status_500', message: 'PDL answered this item with status 500' },
        },
        { status: 'retry', itemStatus: 429, error: { type: 'rate_limit_error', message: 'slow down' } },
        { status: 'out_of_credits', error: { type: 'payment_required', message: 'no credits' } },
        { status: 'error', error: { type: 'status_422', message: 'PDL answered this item with status 422' } },
      ],
    });
  });

  it('reads a 200 item with an empty record as a match that knows nothing but its confidence', () => {
    const parsed = parseBulkResponse(
      [
        { status: 200, likelihood: 6 },
        { status: 200, likelihood: 9, data: {} },
      ],
      ['a.com', 'b.com'],
    );

    if (!parsed.ok) throw new Error(parsed.problem);
    for (const outcome of parsed.value) {
      expect(outcome).toMatchObject({
        status: 'matched',
        pdlId: null,
        firmographics: { name: null, website: null, revenueRange: 'Unknown', description: null },
      });
    }
    expect(parsed.value.map((o) => (o.status === 'matched' ? o.firmographics.matchConfidence : 0))).toEqual([
      0.6, 0.9,
    ]);
  });

  it('joins answers by their echoed metadata, by position when none is echoed', () => {
    const reversed = parseBulkResponse(
      [
        { status: 404, metadata: { domain: 'b.com' } },
        { status: 200, likelihood: 7, display_name: 'A', metadata: { domain: 'a.com' } },
      ],
      ['a.com', 'b.com'],
    );
    const bare = parseBulkResponse(
      [{ status: 200, likelihood: 7, display_name: 'A' }, { status: 404 }],
      ['a.com', 'b.com'],
    );

    for (const parsed of [reversed, bare]) {
      expect(parsed).toMatchObject({
        ok: true,
        value: [{ status: 'matched', firmographics: { name: 'A' } }, { status: 'not_found' }],
      });
    }
    // Out of order with an item that echoes nothing: which company it answers is unknown.
    expect(
      parseBulkResponse(
        [{ status: 404 }, { status: 404, metadata: { domain: 'a.com' } }, { status: 404 }],
        ['a.com', 'b.com', 'c.com'],
      ),
    ).toMatchObject({ ok: false, problem: expect.stringContaining('b.com') });
  });
});
