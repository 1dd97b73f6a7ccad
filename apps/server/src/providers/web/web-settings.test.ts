import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';

describe('web provider settings', () => {
  it('defaults to the system resolver and bounded, polite fetching', () => {
    expect(loadConfig({})).toMatchObject({
      DNS_SERVERS: [],
      DNS_TIMEOUT_MS: 3_000,
      WEB_CONCURRENCY: 16,
      WEB_HOST_CONCURRENCY: 2,
      WEB_FETCH_TIMEOUT_MS: 10_000,
      WEB_MAX_PAGE_BYTES: 1024 * 1024,
    });
    expect(loadConfig({ DNS_SERVERS: '  ' }).DNS_SERVERS).toEqual([]);
  });

  it('takes DNS servers as ip, ip:port, ipv6 or [ipv6]:port', () => {
    expect(loadConfig({ DNS_SERVERS: '10.0.0.2, 127.0.0.1:5353,::1,[fd00::53]:53' }).DNS_SERVERS).toEqual([
      '10.0.0.2',
      '127.0.0.1:5353',
      '::1',
      '[fd00::53]:53',
    ]);
  });

  it.each([
    'dns.example.com',
    '1.1.1.1:0',
    '1.1.1.1:70000',
    '1.1.1.1:53:53',
    '[1.1.1.1]:53',
    'fd00::53:53:x',
  ])('refuses DNS_SERVERS=%s', (value) => {
    expect(() => loadConfig({ DNS_SERVERS: value })).toThrow(/DNS_SERVERS must list ip or ip:port/);
  });

  it('refuses limits that would stop the provider', () => {
    expect(() => loadConfig({ WEB_CONCURRENCY: '0' })).toThrow(/WEB_CONCURRENCY/);
    expect(() => loadConfig({ WEB_MAX_PAGE_BYTES: '10' })).toThrow(/WEB_MAX_PAGE_BYTES/);
    expect(() => loadConfig({ WEB_CONTACT_URL: 'mailto:bot@example.com' })).toThrow(/WEB_CONTACT_URL/);
  });
});
