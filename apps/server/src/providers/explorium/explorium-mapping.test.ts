import { describe, expect, it } from 'vitest';
import {
  parseBulkEnrichResponse,
  parseMatchResponse,
  readCorrelationId,
  readErrorDetails,
  readRetryAfterSeconds,
  reduceRange,
  toFirmographics,
} from './explorium-mapping';

const STRIPE_ID = '8adce3ca1cef0c986b22310e369a0793';
const OTHER_ID = '0123456789abcdef0123456789abcdef';

const STRIPE_DATA = {
  business_id: STRIPE_ID,
  name: 'Stripe',
  business_description: 'Payments infrastructure.',
  website: 'https://stripe.com',
  country_name: 'united states',
  region_name: 'california',
  city_name: 'south san francisco',
  naics_description: 'Financial Transactions Processing',
  linkedin_industry_category: 'financial services',
  linkedin_profile: 'https://www.linkedin.com/company/stripe',
  number_of_employees_range: '5001-10000',
  yearly_revenue_range: '1B-10B',
  ticker: null,
};

describe('toFirmographics', () => {
  it('maps every field to our names', () => {
    expect(toFirmographics(STRIPE_DATA)).toEqual({
      name: 'Stripe',
      industry: 'financial services',
      companySize: '5001-10000',
      revenueRange: '1B-10B',
      country: 'united states',
      region: 'california',
      city: 'south san francisco',
      website: 'https://stripe.com',
      linkedinUrl: 'https://www.linkedin.com/company/stripe',
      description: 'Payments infrastructure.',
    });
  });

  it('falls back to the NAICS description when the LinkedIn industry is missing or blank', () => {
    const { linkedin_industry_category: _, ...withoutLinkedin } = STRIPE_DATA;
    expect(toFirmographics(withoutLinkedin).industry).toBe('Financial Transactions Processing');
    expect(toFirmographics({ ...STRIPE_DATA, linkedin_industry_category: '  ' }).industry).toBe(
      'Financial Transactions Processing',
    );
    expect(toFirmographics({ ...STRIPE_DATA, linkedin_industry_category: null }).industry).toBe(
      'Financial Transactions Processing',
    );
    expect(toFirmographics({ name: 'Nothing known' }).industry).toBeNull();
  });

  it('says "Unknown" when there is no usable revenue band', () => {
    const { yearly_revenue_range: _, ...withoutRevenue } = STRIPE_DATA;
    expect(toFirmographics(withoutRevenue).revenueRange).toBe('Unknown');
    expect(toFirmographics({ ...STRIPE_DATA, yearly_revenue_range: null }).revenueRange).toBe('Unknown');
    expect(toFirmographics({ ...STRIPE_DATA, yearly_revenue_range: { min: 1, max: 5 } }).revenueRange).toBe(
      'Unknown',
    );
  });

  it('accepts range fields sent as objects with one obvious string', () => {
    const data = {
      ...STRIPE_DATA,
      number_of_employees_range: { value: '51-200' },
      yearly_revenue_range: { label: '10M-25M', code: 7 },
    };
    const mapped = toFirmographics(data);
    expect(mapped.companySize).toBe('51-200');
    expect(mapped.revenueRange).toBe('10M-25M');
  });

  it('turns wrongly typed descriptive fields into null instead of failing', () => {
    const parsed = parseBulkEnrichResponse(
      { data: [{ business_id: STRIPE_ID, data: { ...STRIPE_DATA, name: 42, city_name: ['x'] } }] },
      [STRIPE_ID],
    );
    expect(parsed.ok && parsed.value.get(STRIPE_ID)).toMatchObject({
      name: null,
      city: null,
      country: 'united states',
    });
  });
});

describe('reduceRange', () => {
  it.each([
    ['51-200', '51-200'],
    ['  10001+ ', '10001+'],
    ['', null],
    [{ value: '1M-5M' }, '1M-5M'],
    [{ value: '1M-5M', label: '1M-5M' }, '1M-5M'],
    [{ min: '1M', max: '5M' }, null],
    [['11-50'], '11-50'],
    [[], null],
    [42, null],
    [null, null],
    [undefined, null],
  ])('%j → %j', (input, expected) => {
    expect(reduceRange(input)).toBe(expected);
  });
});

describe('parseMatchResponse', () => {
  const context = { correlation_id: 'c-1', request_status: 'success', time_took_in_seconds: 0.4 };

  it('keeps the input order and reads misses and per-item errors', () => {
    const parsed = parseMatchResponse(
      {
        response_context: context,
        total_results: 3,
        matched_businesses: [
          { input: { domain: 'stripe.com' }, business_id: STRIPE_ID },
          { input: { domain: 'nothing-here.invalid' }, business_id: null },
          { input: { domain: 'bad domain' }, error: 'Not a valid domain', error_type: 'invalid_domain' },
        ],
      },
      ['stripe.com', 'nothing-here.invalid', 'bad domain'],
    );
    expect(parsed).toEqual({
      ok: true,
      value: [
        { domain: 'stripe.com', businessId: STRIPE_ID },
        { domain: 'nothing-here.invalid', businessId: null },
        {
          domain: 'bad domain',
          businessId: null,
          error: { type: 'invalid_domain', message: 'Not a valid domain' },
        },
      ],
    });
  });

  it('treats an absent business_id as no match', () => {
    const parsed = parseMatchResponse({ matched_businesses: [{ input: { domain: 'a.com' } }] }, ['a.com']);
    expect(parsed).toEqual({ ok: true, value: [{ domain: 'a.com', businessId: null }] });
  });

  it('joins by the echoed domain when the order was not kept', () => {
    const parsed = parseMatchResponse(
      {
        matched_businesses: [
          { input: { domain: 'b.com' }, business_id: OTHER_ID },
          { input: { domain: 'A.com' }, business_id: STRIPE_ID },
        ],
      },
      ['a.com', 'b.com'],
    );
    expect(parsed).toEqual({
      ok: true,
      value: [
        { domain: 'a.com', businessId: STRIPE_ID },
        { domain: 'b.com', businessId: OTHER_ID },
      ],
    });
  });

  it('rejects a body whose length differs from the request', () => {
    const parsed = parseMatchResponse({ matched_businesses: [] }, ['a.com']);
    expect(parsed).toEqual({ ok: false, problem: 'match response has 0 results for 1 domains' });
  });

  it('reads an answer without matched_businesses (optional in the published schema) as no match', () => {
    const expected = {
      ok: true,
      value: [
        { domain: 'a.com', businessId: null },
        { domain: 'b.com', businessId: null },
      ],
    };
    expect(parseMatchResponse({ response_context: {}, total_results: 2 }, ['a.com', 'b.com'])).toEqual(
      expected,
    );
    expect(parseMatchResponse({ total_results: 2, matched_businesses: null }, ['a.com', 'b.com'])).toEqual(
      expected,
    );
  });

  it('rejects a structurally wrong body', () => {
    expect(parseMatchResponse({ matched_businesses: 'nope' }, ['a.com']).ok).toBe(false);
    expect(parseMatchResponse({ matched_businesses: [{ business_id: 7 }] }, ['a.com']).ok).toBe(false);
    const missing = parseMatchResponse({ results: [] }, ['a.com']);
    expect(missing.ok ? null : missing.problem).toContain('matched_businesses');
  });
});

describe('parseBulkEnrichResponse', () => {
  it('fails only the row the provider failed on, not as "matched, nothing known"', () => {
    const parsed = parseBulkEnrichResponse(
      {
        response_context: {},
        total_results: 2,
        data: [
          { business_id: STRIPE_ID, data: { name: 'Stripe' } },
          { business_id: OTHER_ID, error: 'internal lookup failed', error_type: 'lookup_error' },
        ],
      },
      [STRIPE_ID, OTHER_ID],
    );
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.value.get(STRIPE_ID)).toMatchObject({ name: 'Stripe' });
    expect(parsed.value.get(OTHER_ID)).toEqual({
      error: { type: 'lookup_error', message: 'internal lookup failed' },
    });
  });

  it('joins rows by business_id, not by position', () => {
    const parsed = parseBulkEnrichResponse(
      {
        data: [
          { business_id: OTHER_ID, data: { name: 'Other' } },
          { business_id: STRIPE_ID, data: STRIPE_DATA },
        ],
      },
      [STRIPE_ID, OTHER_ID],
    );
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(parsed.value.get(STRIPE_ID)).toMatchObject({ name: 'Stripe' });
    expect(parsed.value.get(OTHER_ID)).toMatchObject({ name: 'Other' });
  });

  it('maps a row without data to null and leaves out ids without a row', () => {
    const parsed = parseBulkEnrichResponse({ data: [{ business_id: STRIPE_ID }] }, [STRIPE_ID, OTHER_ID]);
    if (!parsed.ok) throw new Error(parsed.problem);
    expect([...parsed.value.entries()]).toEqual([[STRIPE_ID, null]]);
  });

  it('treats an empty array or object as nothing known, and ignores ids nobody asked for', () => {
    const parsed = parseBulkEnrichResponse(
      {
        data: [
          { business_id: STRIPE_ID, data: [] },
          { business_id: OTHER_ID, data: {} },
          { business_id: 'ffffffffffffffffffffffffffffffff', data: { name: 'Stranger' } },
        ],
      },
      [STRIPE_ID, OTHER_ID],
    );
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(Object.fromEntries(parsed.value)).toEqual({ [STRIPE_ID]: null, [OTHER_ID]: null });
  });

  it('reads an answer without data (optional in the published schema) as no rows', () => {
    const parsed = parseBulkEnrichResponse({ response_context: {}, total_results: 0 }, [STRIPE_ID]);
    expect(parsed.ok && parsed.value.size).toBe(0);
    const nulled = parseBulkEnrichResponse({ total_results: 0, data: null }, [STRIPE_ID]);
    expect(nulled.ok && nulled.value.size).toBe(0);
  });

  it('rejects a body with neither data nor any field the schema requires', () => {
    const parsed = parseBulkEnrichResponse({ rows: [] }, [STRIPE_ID]);
    expect(parsed.ok ? null : parsed.problem).toContain('no data');
  });

  it('rejects rows that cannot be joined', () => {
    expect(parseBulkEnrichResponse({ data: [{ data: STRIPE_DATA }] }, [STRIPE_ID]).ok).toBe(false);
    expect(parseBulkEnrichResponse({ data: { business_id: STRIPE_ID } }, [STRIPE_ID]).ok).toBe(false);
  });
});

describe('error bodies', () => {
  it('finds the correlation id at the top or in response_context', () => {
    expect(readCorrelationId({ details: 'x', correlation_id: 'top' })).toBe('top');
    expect(readCorrelationId({ response_context: { correlation_id: 'ctx' } })).toBe('ctx');
    expect(readCorrelationId('not an object')).toBeNull();
    expect(readCorrelationId({})).toBeNull();
  });

  it('reads details from each documented form', () => {
    expect(readErrorDetails({ details: 'You have insufficient credits', correlation_id: 'c' })).toBe(
      'You have insufficient credits',
    );
    expect(
      readErrorDetails({
        detail: [{ loc: ['body', 'foo'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' }],
      }),
    ).toBe('body.foo: Extra inputs are not permitted');
    expect(readErrorDetails({ code: 429, message: 'Too many requests', retry_after: 60 })).toBe(
      'Too many requests',
    );
    expect(readErrorDetails({ nothing: true })).toBeNull();
  });

  it('reads retry_after in seconds from either 429 form', () => {
    expect(
      readRetryAfterSeconds({ error: 'rate_limit_exceeded', message: 'slow down', retry_after: 60 }),
    ).toBe(60);
    expect(readRetryAfterSeconds({ code: 429, message: 'slow down', retry_after: '12' })).toBe(12);
    expect(readRetryAfterSeconds({ retry_after: -1 })).toBeNull();
    expect(readRetryAfterSeconds({})).toBeNull();
  });
});
