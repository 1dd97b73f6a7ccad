import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanTitle, extractPage, socialProfileOf } from './html-extract';
import { technologiesOfPage } from './signatures';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('extractPage', () => {
  it('reads a WordPress homepage: og tags, the JSON-LD Organization, its address, size and trackers', () => {
    const facts = extractPage(fixture('wordpress-home.html'), new URL('https://acme.test/'), 'acme.test');
    expect(facts.name).toEqual({ value: 'Acme Robotics', method: 'html:meta[og:site_name]' });
    expect(facts.description).toEqual({
      value: 'Acme Robotics builds warehouse robots that pick, pack and ship & never sleep.',
      method: 'html:meta[description]',
    });
    expect(facts.logoUrl).toEqual({
      value: 'https://acme.test/wp-content/uploads/2024/05/logo.svg',
      method: 'jsonld:Organization.logo',
    });
    expect(facts.socialProfiles).toEqual({
      linkedin: {
        value: 'https://www.linkedin.com/company/acme-robotics',
        method: 'jsonld:Organization.sameAs',
      },
      twitter: { value: 'https://x.com/acmerobotics', method: 'jsonld:Organization.sameAs' },
      crunchbase: {
        value: 'https://www.crunchbase.com/organization/acme-robotics',
        method: 'jsonld:Organization.sameAs',
      },
      github: { value: 'https://github.com/acme-robotics', method: 'html:a[href]' },
      // The share link comes first in the page and is no profile.
      facebook: { value: 'https://www.facebook.com/acmerobotics', method: 'html:a[href]' },
    });
    expect(facts.country).toEqual({ value: 'US', method: 'jsonld:Organization.address.addressCountry' });
    expect(facts.region?.value).toBe('PA');
    expect(facts.city?.value).toBe('Pittsburgh');
    expect(facts.foundedYear).toEqual({ value: 2016, method: 'jsonld:Organization.foundingDate' });
    expect(facts.employeeCount).toEqual({ value: 240, method: 'jsonld:Organization.numberOfEmployees' });

    const tech = technologiesOfPage(facts.evidence, { server: 'nginx', 'x-powered-by': 'PHP/8.2' });
    expect(tech.map((t) => `${t.name} ${t.method}`).sort()).toEqual(
      [
        'WordPress html:meta[generator]',
        'Google Tag Manager html:script',
        'Google Analytics 4 html:script[src]',
        'HubSpot html:script[src]',
        'Intercom html:script',
        'nginx header:server',
        'PHP header:x-powered-by',
      ].sort(),
    );
  });

  it('reads a Next.js homepage without JSON-LD: the title cleaned, links as profiles, relative og:image', () => {
    const facts = extractPage(
      fixture('nextjs-home.html'),
      new URL('https://www.globex.test/'),
      'globex.test',
    );
    expect(facts.name).toEqual({ value: 'Globex', method: 'html:title' });
    expect(facts.description?.value).toBe('Globex lets platforms pay out to anyone, anywhere.');
    expect(facts.logoUrl).toEqual({ value: 'https://www.globex.test/og.png', method: 'html:meta[og:image]' });
    expect(facts.socialProfiles).toEqual({
      twitter: { value: 'https://x.com/globexpay', method: 'html:a[href]' },
      linkedin: { value: 'https://www.linkedin.com/company/globex-payments', method: 'html:a[href]' },
      github: { value: 'https://github.com/globex', method: 'html:a[href]' },
    });
    expect(facts.country).toBeNull();
    expect(facts.employeeCount).toBeNull();
    expect(
      technologiesOfPage(facts.evidence, {})
        .map((t) => t.name)
        .sort(),
    ).toEqual(['Drift', 'Next.js', 'Plausible', 'React', 'Segment'].sort());
  });

  it('takes a range of employees by its lower bound, and the JSON-LD name when no og:site_name', () => {
    const html = `<html><head><title>Welcome</title><script type="application/ld+json">
      {"@context":"https://schema.org","@type":["Corporation"],"name":"Initech",
       "url":"https://initech.test","numberOfEmployees":{"@type":"QuantitativeValue","minValue":51,"maxValue":200},
       "address":[{"@type":"PostalAddress","addressCountry":{"@type":"Country","name":"Germany"},"addressLocality":"Berlin"}],
       "foundingDate":"1999"}</script>
      <script type="application/ld+json">{ not json</script></head><body></body></html>`;
    const facts = extractPage(html, new URL('https://initech.test/'), 'initech.test');
    expect(facts.name).toEqual({ value: 'Initech', method: 'jsonld:Corporation.name' });
    expect(facts.employeeCount).toEqual({
      value: 51,
      method: 'jsonld:Corporation.numberOfEmployees.minValue',
    });
    expect(facts.country?.value).toBe('Germany');
    expect(facts.city?.value).toBe('Berlin');
    expect(facts.foundedYear?.value).toBe(1999);
  });

  it('survives a page that is not HTML at all, or is cut mid-tag', () => {
    expect(extractPage('\u0000\u0001 binary', new URL('https://x.test/'), 'x.test').name).toBeNull();
    const cut = extractPage(
      '<html><head><meta property="og:site_name" content="Cut Co"><title>Cut',
      new URL('https://cut.test/'),
      'cut.test',
    );
    expect(cut.name?.value).toBe('Cut Co');
  });
});

describe('cleanTitle', () => {
  it.each([
    ['Home | Acme', 'acme.test', 'Acme'],
    ['Acme — Widgets for teams', 'acme.test', 'Acme'],
    ['The best widgets - Acme Corp', 'acmecorp.test', 'Acme Corp'],
    ['Welcome to our site', 'other.test', 'Welcome to our site'],
    ['Home', 'acme.test', null],
    ['   ', 'acme.test', null],
  ])('%s on %s → %s', (title, domain, expected) => {
    expect(cleanTitle(title, domain)).toBe(expected);
  });
});

describe('socialProfileOf', () => {
  it.each([
    ['https://www.linkedin.com/company/acme/about/', 'https://www.linkedin.com/company/acme'],
    ['https://uk.linkedin.com/company/acme', 'https://www.linkedin.com/company/acme'],
    ['https://www.linkedin.com/in/some-person', null],
    ['https://twitter.com/acme?lang=en', 'https://x.com/acme'],
    ['https://x.com/intent/follow?screen_name=acme', null],
    ['https://github.com/acme/acme-sdk', 'https://github.com/acme'],
    ['https://github.com/features', null],
    ['https://www.crunchbase.com/organization/acme', 'https://www.crunchbase.com/organization/acme'],
    ['https://www.facebook.com/acme/', 'https://www.facebook.com/acme'],
    ['https://www.facebook.com/sharer.php?u=x', null],
    ['javascript:alert(1)', null],
  ])('%s → %s', (href, expected) => {
    expect(socialProfileOf(href)?.url ?? null).toBe(expected);
  });
});
