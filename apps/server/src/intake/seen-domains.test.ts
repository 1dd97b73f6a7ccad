import { describe, expect, it } from 'vitest';
import { createSeenDomains } from './seen-domains';

describe('seen domains', () => {
  it('says "surely new" exactly once per domain, across many growths of the table', () => {
    const seen = createSeenDomains();
    const domains = Array.from(
      { length: 300_000 },
      (_, i) => `company-${i.toString(36)}.example${i % 7}.com`,
    );
    expect(domains.filter((d) => seen.addIfNew(d))).toHaveLength(domains.length);
    expect(domains.filter((d) => seen.addIfNew(d))).toHaveLength(0);
  });

  it('tells apart domains that differ in one character or in length', () => {
    const seen = createSeenDomains();
    for (const d of ['a.com', 'b.com', 'a.co', 'a.comm', 'xn--bcher-kva.de', 'bücher.de', '']) {
      expect(seen.addIfNew(d)).toBe(true);
    }
    expect(seen.addIfNew('a.com')).toBe(false);
  });
});
