import { afterEach, describe, expect, it } from 'vitest';
import { startLocalDnsServer } from '../../../test/local-dns-server';
import { startLocalSites } from '../../../test/local-sites';
import { createSsrfGuard } from '../../webhooks/ssrf-guard';
import { createWebResolver } from './dns-resolver';
import { createSafeFetcher, FetchError } from './safe-fetch';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe('safe fetch', () => {
  it('connects to the address it checked: an answer that turns private on the next lookup (rebinding) is never reached', async () => {
    const internal = await startLocalSites({ 'rebind.test': { '/': 'internal admin' } });
    cleanups.push(() => internal.close());
    const site = await startLocalSites(
      { 'rebind.test': { '/': 'public page' } },
      { address: '127.0.0.2', port: internal.port },
    );
    cleanups.push(() => site.close());
    // Odd questions get the public-looking address, even ones the internal address: whoever
    // checks one answer and connects by a second lookup lands inside.
    let asked = 0;
    const dns = await startLocalDnsServer((_name, type) => {
      if (type !== 'A') return {};
      asked++;
      return { A: [asked % 2 === 1 ? '127.0.0.2' : '127.0.0.1'] };
    });
    cleanups.push(() => dns.close());
    const resolver = createWebResolver({ servers: [dns.server], timeoutMs: 500 });
    const guard = createSsrfGuard(['127.0.0.2/32'], { resolve: (host) => resolver.addresses(host) });
    const fetcher = createSafeFetcher({
      guard,
      userAgent: 'test',
      connectTimeoutMs: 1_000,
      connectionsPerOrigin: 1,
      defaultPorts: { 'http:': site.port },
    });
    cleanups.push(() => fetcher.close());

    const page = await fetcher.get(new URL('http://rebind.test/'), {
      maxBytes: 1024,
      signal: AbortSignal.timeout(5_000),
    });
    expect(page.body).toBe('public page');
    expect(asked).toBe(1);
    expect(internal.connections).toBe(0);

    // A second connection asks again, gets the internal address, and is refused before connecting.
    await fetcher.close();
    const again = createSafeFetcher({
      guard,
      userAgent: 'test',
      connectTimeoutMs: 1_000,
      connectionsPerOrigin: 1,
      defaultPorts: { 'http:': site.port },
    });
    cleanups.push(() => again.close());
    const err = await again
      .get(new URL('http://rebind.test/'), { maxBytes: 1024, signal: AbortSignal.timeout(5_000) })
      .catch((e: unknown) => e);
    expect(err instanceof FetchError && err.reason).toBe('refused');
    expect(internal.connections).toBe(0);
  });
});
