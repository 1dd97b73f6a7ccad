import { describe, expect, it } from 'vitest';
import { createSeenDomains } from './seen-domains';

describe('seen domains', () => {
  it('says "new" exactly once per domain and "seen" after, across many growths of the table', () => {
    const seen = createSeenDomains();
    const domains = Array.from(
      { length: 300_000 },
      (_, i) => `company-${i.toString(36)}.example${i % 7}.com`,
    );
    expect(domains.filter((d) => seen.add(d) === 'new')).toHaveLength(domains.length);
    expect(domains.filter((d) => seen.add(d) === 'seen')).toHaveLength(domains.length);
  });

  it('tells apart domains that differ in one character or in length', () => {
    const seen = createSeenDomains();
    for (const d of ['a.com', 'b.com', 'a.co', 'a.comm', 'xn--bcher-kva.de', '']) {
      expect(seen.add(d)).toBe('new');
    }
    expect(seen.add('a.com')).toBe('seen');
    expect(seen.add('')).toBe('seen');
  });

  it('answers "maybe", never "seen", for a domain whose characters it could not keep', () => {
    // Room for the first two domains only (a byte of length and a byte a character each).
    const seen = createSeenDomains({ maxKeptBytes: 12 });
    expect(seen.add('a.com')).toBe('new');
    expect(seen.add('b.com')).toBe('new');
    expect(seen.add('c.com')).toBe('new');
    expect(seen.add('a.com')).toBe('seen');
    expect(seen.add('c.com')).toBe('maybe');
    expect(seen.add('c.com')).toBe('maybe');
    // Not one byte a character: never kept.
    expect(createSeenDomains().add('bücher.de')).toBe('new');
    const unicode = createSeenDomains();
    unicode.add('😀.de');
    expect(unicode.add('😀.de')).toBe('maybe');
  });

  it('compares the characters when domains share a hash, so none is taken for another', () => {
    const seen = createSeenDomains({ hash: (d) => 1 + (d.length % 3) });
    const domains = Array.from({ length: 2_000 }, (_, i) => `company-${i}.io`);
    expect(domains.every((d) => seen.add(d) === 'new')).toBe(true);
    expect(domains.every((d) => seen.add(d) === 'seen')).toBe(true);
    // Past the limit: b.com differs from every domain kept with its hash, so it is new, but it is
    // not kept itself, and a third domain with that hash can then only be "maybe".
    const full = createSeenDomains({ hash: () => 7, maxKeptBytes: 6 });
    expect(full.add('a.com')).toBe('new');
    expect(full.add('b.com')).toBe('new');
    expect(full.add('a.com')).toBe('seen');
    expect(full.add('b.com')).toBe('maybe');
    expect(full.add('c.com')).toBe('maybe');
  });
});
