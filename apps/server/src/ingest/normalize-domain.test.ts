import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PERSONAL_EMAIL_DOMAINS,
  isPlainAsciiHost,
  normalizeDomain,
  personalEmailDomainSet,
  REJECT_REASONS,
  type RejectReason,
} from './normalize-domain';

const opts = { blockedEmailDomains: DEFAULT_PERSONAL_EMAIL_DOMAINS };

type Expected = { domain: string; display?: string } | { reason: RejectReason };
type Case = readonly [input: string, expected: Expected, why?: string];

const ok = (domain: string, display?: string): Expected => (display ? { domain, display } : { domain });
const no = (reason: RejectReason): Expected => ({ reason });

const CASES: readonly Case[] = [
  // Plain domains and case
  ['stripe.com', ok('stripe.com', 'stripe.com')],
  ['Stripe.com', ok('stripe.com')],
  ['STRIPE.COM', ok('stripe.com')],
  [' Stripe.com ', ok('stripe.com')],
  ['\u00a0stripe.com\u00a0', ok('stripe.com'), 'non-breaking spaces from Excel'],
  ['\u200bstripe.com\ufeff', ok('stripe.com'), 'zero-width space and BOM'],
  ['\tstripe.com\r\n', ok('stripe.com')],
  ['stripe.com.', ok('stripe.com'), 'fully qualified trailing dot'],
  ['.stripe.com', ok('stripe.com'), 'cookie-style leading dot'],
  ['*.stripe.com', ok('stripe.com'), 'wildcard certificate name'],
  // Wrapping
  ['"stripe.com"', ok('stripe.com')],
  ["'stripe.com'", ok('stripe.com')],
  ['<stripe.com>', ok('stripe.com')],
  ['“stripe.com”', ok('stripe.com'), 'smart quotes'],
  ['(stripe.com)', ok('stripe.com')],
  ['" <stripe.com> "', ok('stripe.com'), 'nested wrapping'],
  // URLs
  ['https://www.Stripe.com/pricing?x=1#y', ok('stripe.com')],
  ['HTTP://user:pw@Stripe.com:8080/', ok('stripe.com')],
  ['http://stripe.com', ok('stripe.com')],
  ['ftp://files.stripe.com/a.csv', ok('stripe.com'), 'any scheme'],
  ['//stripe.com', ok('stripe.com'), 'scheme-relative'],
  ['stripe.com/', ok('stripe.com')],
  ['stripe.com/pricing', ok('stripe.com')],
  ['stripe.com?utm_source=x', ok('stripe.com')],
  ['stripe.com#about', ok('stripe.com')],
  ['stripe.com:443', ok('stripe.com')],
  ['https:\\\\stripe.com\\pricing', ok('stripe.com'), 'backslashes as browsers read them'],
  ['https://medium.com/@stripe', ok('medium.com'), 'an @ in the path is not an email'],
  // www and subdomains
  ['www.stripe.com', ok('stripe.com')],
  ['www2.stripe.com', ok('stripe.com')],
  ['WWW3.stripe.com', ok('stripe.com')],
  ['blog.stripe.com', ok('stripe.com')],
  ['a.b.c.stripe.com', ok('stripe.com')],
  ['www.com', ok('www.com'), 'www is kept when it is the registrable label'],
  // Multi-part public suffixes
  ['bbc.co.uk', ok('bbc.co.uk')],
  ['www.amazon.co.uk', ok('amazon.co.uk')],
  ['shop.example.com.au', ok('example.com.au')],
  ['mercadolibre.com.ar', ok('mercadolibre.com.ar')],
  // Private suffixes
  ['acme.github.io', ok('acme.github.io')],
  ['docs.acme.github.io', ok('acme.github.io')],
  ['foo.herokuapp.com', ok('foo.herokuapp.com')],
  ['shop.myshopify.com', ok('shop.myshopify.com')],
  ['github.io', ok('github.io'), 'a private suffix alone is the platform company'],
  ['herokuapp.com', ok('herokuapp.com')],
  // Emails
  ['bob@stripe.com', ok('stripe.com')],
  ['Bob.Smith+crm@Mail.Stripe.com', ok('stripe.com')],
  ['mailto:bob@Stripe.COM/', ok('stripe.com')],
  ['MAILTO:bob@stripe.com?subject=Hi', ok('stripe.com')],
  ['Bob Smith <bob@stripe.com>', ok('stripe.com'), 'display-name form'],
  ['bob@gmail.com', no('personal_email_provider')],
  ['BOB@GoogleMail.com', no('personal_email_provider')],
  ['mailto:jane@yahoo.co.uk', no('personal_email_provider')],
  ['jane@mail.yahoo.com', no('personal_email_provider'), 'subdomain of a provider'],
  ['gmail.com', no('personal_email_provider'), 'a bare provider domain is not a company either'],
  ['https://www.outlook.com/', no('personal_email_provider')],
  ['bob@', no('empty')],
  // IDN
  ['münchen.de', ok('xn--mnchen-3ya.de', 'münchen.de')],
  ['MÜNCHEN.DE', ok('xn--mnchen-3ya.de', 'münchen.de')],
  ['xn--mnchen-3ya.de', ok('xn--mnchen-3ya.de', 'münchen.de')],
  ['https://www.münchen.de/rathaus', ok('xn--mnchen-3ya.de', 'münchen.de')],
  ['пример.рф', ok('xn--e1afmkfd.xn--p1ai', 'пример.рф')],
  ['ｓｔｒｉｐｅ.com', ok('stripe.com'), 'full-width letters'],
  ['stripe。com', ok('stripe.com'), 'ideographic full stop'],
  ['xn--zz.com', no('invalid_characters'), 'broken punycode'],
  ['xn--.com', no('invalid_characters'), 'empty punycode'],
  ['xn--abc.com', no('invalid_characters'), 'punycode that does not decode'],
  ['xn--stripe-.com', no('invalid_characters'), 'punycode of plain ASCII'],
  ['xn--MNCHEN-3YA.de', ok('xn--mnchen-3ya.de', 'münchen.de'), 'punycode in capitals'],
  ['shop.xn--e1afmkfd.xn--p1ai', ok('xn--e1afmkfd.xn--p1ai', 'пример.рф')],
  ['ｘｎ--zz.com', no('invalid_characters'), 'broken punycode in full-width letters'],
  // Empty and placeholders
  ['', no('empty')],
  ['   ', no('empty')],
  ['""', no('empty')],
  ['n/a', no('empty')],
  ['N/A', no('empty')],
  ['#N/A', no('empty')],
  ['-', no('empty')],
  ['none', no('empty')],
  ['null', no('empty')],
  ['https://', no('empty')],
  // IP addresses
  ['192.168.0.1', no('ip_address')],
  ['http://10.0.0.1:8080/admin', no('ip_address')],
  ['[::1]', no('ip_address')],
  ['http://[2001:db8::1]:443/', no('ip_address')],
  ['::1', no('ip_address')],
  ['2001:db8::ff00:42:8329', no('ip_address')],
  ['3232235521', no('ip_address'), 'decimal IPv4 as browsers read it'],
  // No public suffix
  ['localhost', no('no_public_suffix')],
  ['intranet', no('no_public_suffix')],
  ['stripe', no('no_public_suffix')],
  ['foo.notatld', no('no_public_suffix')],
  ['server.local', no('no_public_suffix')],
  ['co.uk', no('no_public_suffix'), 'a public suffix alone'],
  ['com', no('no_public_suffix')],
  ['example.com', no('no_public_suffix'), 'reserved by RFC 2606'],
  ['shop.test', no('no_public_suffix')],
  // Invalid characters
  ['foo_bar.com', no('invalid_characters')],
  ['stripe .com', no('invalid_characters')],
  ['Stripe.com, Inc', no('invalid_characters'), 'one cell, one domain'],
  ['stripe.com;acme.com', no('invalid_characters')],
  ['stripe.com,acme.com', no('invalid_characters')],
  ['-stripe.com', no('invalid_characters')],
  ['stripe-.com', no('invalid_characters')],
  ['stri*pe.com', no('invalid_characters')],
  ['stripe..com', no('invalid_characters')],
  ['stripe%2ecom', no('invalid_characters')],
  ['Stripe Inc', no('invalid_characters')],
  // Too long
  [`${'a'.repeat(296)}.com`, no('too_long'), '300-character domain'],
  [`${'a'.repeat(64)}.com`, no('too_long'), 'label over 63'],
  [`${'abcdefghi.'.repeat(26)}com`, no('too_long'), 'hostname over 253 with short labels'],
  [`${'a'.repeat(63)}.com`, ok(`${'a'.repeat(63)}.com`), 'label of exactly 63'],
];

describe('normalizeDomain', () => {
  it('has at least 60 table cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES.map(([input, expected, why]) => ({ input, expected, why: why ?? '' })))(
    '$input $why',
    ({ input, expected }) => {
      const result = normalizeDomain(input, opts);
      if ('domain' in expected) {
        expect(result).toMatchObject({ ok: true, domain: expected.domain });
        if (expected.display !== undefined) expect(result).toMatchObject({ display: expected.display });
      } else {
        expect(result).toMatchObject({ ok: false, reason: expected.reason });
      }
    },
  );

  it('explains each rejection in words', () => {
    expect(normalizeDomain('192.168.0.1', opts)).toEqual({
      ok: false,
      reason: 'ip_address',
      message: 'an IP address is not a company domain',
    });
    expect(normalizeDomain('bob@gmail.com', opts)).toMatchObject({
      message: expect.stringContaining('gmail.com'),
    });
    expect(normalizeDomain('Stripe.com, Inc', opts)).toMatchObject({
      message: expect.stringContaining('exactly one domain'),
    });
  });

  it('stays linear on huge pathological cells', () => {
    const inputs = [
      `${' '.repeat(500_000)}x${' '.repeat(500_000)}y`,
      `<${'@'.repeat(1_000_000)}`,
      `[${':'.repeat(1_000_000)}`,
      `${'('.repeat(500_000)}stripe.com${')'.repeat(500_000)}`,
      `https://${'a.'.repeat(500_000)}com`,
    ];
    const started = performance.now();
    for (const input of inputs) expect(normalizeDomain(input, opts).ok).toBe(false);
    // Linear work takes milliseconds here; the quadratic regexes this guards against took minutes.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('only rejects personal providers that are in the given set', () => {
    expect(normalizeDomain('bob@gmail.com', { blockedEmailDomains: new Set() })).toMatchObject({
      ok: true,
      domain: 'gmail.com',
    });
  });

  it('builds a blocked set from user-supplied entries in the form it compares against', () => {
    const set = personalEmailDomainSet([' Example-Mail.COM ', '@Bücher.de', 'not a domain']);
    expect(set.has('example-mail.com')).toBe(true);
    expect(set.has('xn--bcher-kva.de')).toBe(true);
    expect(set.has('gmail.com')).toBe(true);
    expect(normalizeDomain('anna@bücher.de', { blockedEmailDomains: set })).toMatchObject({
      reason: 'personal_email_provider',
    });
  });

  it('never throws and always answers with a known reason or a valid ASCII domain', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        const result = normalizeDomain(input, opts);
        if (result.ok) {
          expect(result.domain).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
          expect(result.domain.length).toBeLessThanOrEqual(253);
        } else {
          expect(REJECT_REASONS).toContain(result.reason);
          expect(result.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent on its own output', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (url) => {
        const first = normalizeDomain(url, { blockedEmailDomains: new Set() });
        if (first.ok) {
          expect(normalizeDomain(first.domain, { blockedEmailDomains: new Set() })).toEqual(first);
          expect(normalizeDomain(first.display, { blockedEmailDomains: new Set() })).toEqual(first);
        } else {
          expect(REJECT_REASONS).toContain(first.reason);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('isPlainAsciiHost', () => {
  it('holds only for hosts that WHATWG host parsing leaves exactly as they are', () => {
    const host = fc
      .array(fc.stringMatching(/^[a-z0-9-]{0,70}$/), { minLength: 1, maxLength: 6 })
      .map((labels) => labels.join('.'));
    fc.assert(
      fc.property(host, (h) => {
        if (!isPlainAsciiHost(h)) return;
        expect(domainToASCII(h)).toBe(h);
        expect(domainToUnicode(h)).toBe(h);
        expect(isIP(h)).toBe(0);
      }),
      { numRuns: 5_000 },
    );
    for (const h of ['stripe.com', 'a..b.com', `${'a'.repeat(70)}.com`, 'x-.y--z.io']) {
      expect(isPlainAsciiHost(h)).toBe(true);
      expect(domainToASCII(h)).toBe(h);
    }
    for (const h of ['1.2.3.4', '0x7f.1', 'a.123', 'xn--bcher-kva.de', 'Stripe.com', 'a.b.', 'bücher.de']) {
      expect(isPlainAsciiHost(h)).toBe(false);
    }
  });
});
