import { describe, expect, it } from 'vitest';
import { robotsAllows } from './robots';

describe('robotsAllows', () => {
  it('allows everything without rules, and with an empty Disallow', () => {
    expect(robotsAllows('', 'GTM-Enrich', '/')).toBe(true);
    expect(robotsAllows('User-agent: *\nDisallow:', 'GTM-Enrich', '/')).toBe(true);
  });

  it('follows the * group when none names us', () => {
    expect(robotsAllows('User-agent: *\nDisallow: /', 'GTM-Enrich', '/')).toBe(false);
    expect(robotsAllows('User-agent: *\nDisallow: /private/', 'GTM-Enrich', '/')).toBe(true);
  });

  it('prefers the group naming our token, case-insensitively, over *', () => {
    const txt = 'User-agent: *\nDisallow: /\n\nUser-agent: gtm-enrich\nAllow: /\n';
    expect(robotsAllows(txt, 'GTM-Enrich', '/')).toBe(true);
    const keepOut = 'User-agent: Googlebot\nUser-agent: GTM-Enrich\nDisallow: /\n\nUser-agent: *\nAllow: /';
    expect(robotsAllows(keepOut, 'GTM-Enrich', '/')).toBe(false);
    // Another crawler's token that merely starts like ours is not ours.
    expect(robotsAllows('User-agent: GTM\nDisallow: /', 'GTM-Enrich', '/')).toBe(true);
  });

  it('takes the longest matching rule, Allow on a tie, with * and $', () => {
    const txt = 'User-agent: *\nDisallow: /\nAllow: /$\n# comment\nDisallow: /*.pdf$';
    expect(robotsAllows(txt, 'GTM-Enrich', '/')).toBe(true);
    expect(robotsAllows(txt, 'GTM-Enrich', '/about')).toBe(false);
    expect(robotsAllows('User-agent: *\nDisallow: /a\nAllow: /a', 'x', '/a')).toBe(true);
    expect(robotsAllows('User-agent: *\r\nDisallow: /*.pdf$', 'x', '/doc.pdf')).toBe(false);
    expect(robotsAllows('User-agent: *\r\nDisallow: /*.pdf$', 'x', '/doc.pdf?x=1')).toBe(true);
  });
});
