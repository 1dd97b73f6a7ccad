import { describe, expect, it } from 'vitest';
import { EMPLOYEE_BANDS, REVENUE_BANDS, SANDBOX_COMPANIES } from './sandbox-companies';
import {
  businessIdForDomain,
  createSandboxDirectory,
  lookupDomain,
  lookupName,
  normalizeDomain,
  type SandboxBusiness,
} from './sandbox-data';

function matched(domain: string): SandboxBusiness {
  const found = lookupDomain(domain);
  if (found.kind !== 'match') throw new Error(`${domain} should match, got ${found.kind}`);
  return found.business;
}

describe('built-in companies', () => {
  it('has at least 300 distinct, well-formed rows', () => {
    expect(SANDBOX_COMPANIES.length).toBeGreaterThanOrEqual(300);
    const domains = SANDBOX_COMPANIES.map((row) => row[0]);
    expect(new Set(domains).size).toBe(domains.length);
    for (const [
      domain,
      name,
      ,
      employees,
      revenue,
      country,
      region,
      city,
      slug,
      description,
    ] of SANDBOX_COMPANIES) {
      expect(normalizeDomain(domain)).toEqual({ ok: true, hostname: domain, registrable: domain });
      expect(name.trim()).not.toBe('');
      expect(EMPLOYEE_BANDS).toContain(employees);
      expect(REVENUE_BANDS).toContain(revenue);
      for (const place of [country, region, city]) expect(place).toBe(place.toLowerCase());
      expect(slug).not.toMatch(/\s|\//);
      expect(description).toMatch(/\.$/);
    }
  });

  it('answers with the public facts', () => {
    expect(matched('stripe.com').data).toMatchObject({
      name: 'Stripe',
      linkedin_industry_category: 'financial services',
      country_name: 'united states',
      region_name: 'california',
      website: 'https://stripe.com',
      linkedin_profile: 'https://www.linkedin.com/company/stripe',
    });
    expect(matched('stripe.com').synthetic).toBe(false);
    expect(lookupName('stripe')?.businessId).toBe(matched('stripe.com').businessId);
  });
});

describe('lookupDomain', () => {
  it('never matches the reserved .invalid and .example TLDs, but does match example.com', () => {
    expect(lookupDomain('nothing-here.invalid')).toEqual({ kind: 'no_match' });
    expect(lookupDomain('nomatch-acme.com')).toEqual({ kind: 'no_match' });
    expect(lookupDomain('https://www.NoMatch.co.uk/about')).toEqual({ kind: 'no_match' });
    expect(lookupDomain('shop.acme.example')).toEqual({ kind: 'no_match' });
    expect(lookupDomain('example.com').kind).toBe('match');
  });

  it('reports what is not a domain', () => {
    for (const input of ['', 'not a domain', 'localhost', '10.0.0.1', 'http://']) {
      expect(lookupDomain(input).kind).toBe('invalid');
    }
  });

  it('gives one business per registrable domain, however it is written', () => {
    const id = matched('acme-widgets.co.uk').businessId;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const variant of [
      'ACME-widgets.co.uk',
      'www.acme-widgets.co.uk',
      'https://shop.acme-widgets.co.uk/x?y=1',
    ]) {
      expect(matched(variant).businessId).toBe(id);
    }
    expect(id).toBe(businessIdForDomain('acme-widgets.co.uk'));
    expect(matched('acme-widgets.com').businessId).not.toBe(id);
  });

  it('derives synthetic values from the domain, the same every time', () => {
    const first = matched('acme-widgets.co.uk');
    expect(first.synthetic).toBe(true);
    expect(first.data?.name).toBe('Acme Widgets');
    expect(EMPLOYEE_BANDS).toContain(first.data?.number_of_employees_range);
    expect(matched('acme-widgets.co.uk')).toEqual(first);
  });

  it('leaves deliberate gaps in roughly the documented shares', () => {
    const tried = 4_000;
    let total = 0;
    let noData = 0;
    let noRevenue = 0;
    let noLinkedinIndustry = 0;
    for (let i = 0; i < tried; i++) {
      const found = lookupDomain(`company-${i}.com`);
      if (found.kind !== 'match') continue;
      total += 1;
      const { data } = found.business;
      if (data === null) noData += 1;
      else {
        if (data.yearly_revenue_range === undefined) noRevenue += 1;
        if (data.linkedin_industry_category === undefined) noLinkedinIndustry += 1;
        expect(data.naics_description).not.toBe('');
      }
    }
    const misses = (tried - total) / tried;
    expect(misses).toBeGreaterThan(0.03);
    expect(misses).toBeLessThan(0.07);
    expect(noData / total).toBeGreaterThan(0.015);
    expect(noData / total).toBeLessThan(0.045);
    expect(noRevenue / (total - noData)).toBeGreaterThan(0.12);
    expect(noRevenue / (total - noData)).toBeLessThan(0.18);
    expect(noLinkedinIndustry / (total - noData)).toBeGreaterThan(0.07);
    expect(noLinkedinIndustry / (total - noData)).toBeLessThan(0.13);
  });
});

describe('createSandboxDirectory', () => {
  it('knows built-ins from the start and synthetic businesses once matched', () => {
    const directory = createSandboxDirectory();
    expect(directory.findById(businessIdForDomain('apple.com'))?.data?.name).toBe('Apple');
    const syntheticId = businessIdForDomain('brand-new-startup.io');
    expect(directory.findById(syntheticId)).toBeNull();
    directory.lookupDomain('brand-new-startup.io');
    expect(directory.findById(syntheticId)?.domain).toBe('brand-new-startup.io');
  });
});
